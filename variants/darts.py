"""DARTS (softmax over the ops of an edge: exclusive competition) in three settings.

- `darts`: as the FairDARTS repository's darts/ folder runs it, where noise DARTS and random DARTS
  were run too: the 7 ops without 'none', Adam betas (0.9, 0.999), first order.
- `darts_v1` / `darts_v2`: the original DARTS (quark0/darts), which papers cite: 8 ops with 'none',
  Adam betas (0.5, 0.999), first (V1) or second (V2) order.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from fairdarts_core.variant import Variant

# DARTS search on CIFAR-10: 50 epochs, batch 64, SGD lr 0.025 -> 0.001, Adam 3e-4 (wd 1e-3).
_PAPER = {"epochs": 50, "batch_size": 64, "learning_rate": 0.025, "learning_rate_min": 0.001,
          "arch_learning_rate": 3e-4}


@dataclass(frozen=True)
class DARTS(Variant):
    name = "darts"
    summary = "DARTS (FairDARTS repository settings: 7 ops, Adam betas 0.9/0.999, first order)"
    paper_search = MappingProxyType(_PAPER)


@dataclass(frozen=True)
class DARTSV1(Variant):
    name = "darts_v1"
    summary = "DARTS V1 (original: 8 ops with none, Adam betas 0.5/0.999, first order)"
    paper_search = MappingProxyType({**_PAPER, "arch_beta1": 0.5, "order": "first"})

    with_none: bool | None = True  # the 'none' op in the DARTS space: the original DARTS searches 8 ops, 'none' included


@dataclass(frozen=True)
class DARTSV2(DARTSV1):
    name = "darts_v2"
    summary = "DARTS V2 (original: 8 ops with none, Adam betas 0.5/0.999, second order)"
    paper_search = MappingProxyType({**_PAPER, "arch_beta1": 0.5, "order": "second"})
