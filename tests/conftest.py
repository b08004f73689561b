"""Shared fixtures: tiny synthetic image sets (unit tests only) and the bundled digits."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.data import ImageSet


def synthetic_set(n: int = 64, num_classes: int = 10, seed: int = 0, size: int = 32) -> ImageSet:
    """Random uint8 images with random labels: only for shape and plumbing tests, never for results."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    return ImageSet(images, labels, num_classes, (0.5,) * 3, (0.25,) * 3, "synthetic")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny shapes gain nothing from intra-op threads, and on a busy 2-core machine spinning OpenMP
    threads made tests 10-20x slower. Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_set() -> ImageSet:
    return synthetic_set()


@pytest.fixture(scope="session")
def search_set() -> ImageSet:
    """64 random 16x16 images: a search (which has no auxiliary head) runs 4x faster on them than on 32x32."""
    return synthetic_set(size=16)


@pytest.fixture(scope="session")
def digits():
    from fairdarts_core.data import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def nb201_table_file(tmp_path_factory):
    """A synthetic NB201 results table of all 15,625 cells (tests/nb201_fixture.py), written once."""
    from tests.nb201_fixture import write_table

    return write_table(tmp_path_factory.mktemp("nb201") / "nb201_synthetic.csv")
