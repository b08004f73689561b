"""The allocator setting: it takes on glibc Linux, is harmless to repeat, and changes no result."""

from __future__ import annotations

import platform
import sys

import torch

from fairdarts_core.allocator import keep_freed_memory


def test_keep_freed_memory_takes_on_glibc_and_repeats():
    first, second = keep_freed_memory(), keep_freed_memory()
    assert first == second
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert first is glibc  # a no-op (False) on any other C library


def test_results_do_not_depend_on_the_allocator():
    torch.manual_seed(0)
    x = torch.randn(64, 256)
    before = (x @ x.T).relu().sum(0)
    keep_freed_memory()
    big = [torch.ones(1 << 20) for _ in range(8)]  # large blocks, freed again
    del big
    assert torch.equal((x @ x.T).relu().sum(0), before)
