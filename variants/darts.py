"""DARTS: softmax over the ops of an edge (exclusive competition); optionally with 'none' and second order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fairdarts_core.space import DARTS_PRIMITIVES, PRIMITIVES
from fairdarts_core.variant import Variant


def _darts_paper() -> dict[str, Any]:
    # DARTS search on CIFAR-10 (shared/reference): batch 64, lr 0.025 -> 0.001, Adam 3e-4.
    return {"epochs": 50, "batch_size": 64, "learning_rate": 0.025, "learning_rate_min": 0.001,
            "arch_learning_rate": 3e-4}


@dataclass(frozen=True)
class DARTS(Variant):
    with_none: bool = False  # the original DARTS op set adds 'none' as an 8th op
    paper_search: dict[str, Any] = field(default_factory=_darts_paper, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.with_none and "none" not in self.primitives:
            object.__setattr__(self, "primitives", DARTS_PRIMITIVES)
        elif not self.with_none and tuple(self.primitives) == DARTS_PRIMITIVES:
            object.__setattr__(self, "primitives", PRIMITIVES)
        super().__post_init__()
