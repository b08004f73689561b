"""FairDARTS: independent sigmoid weights (collaborative competition) plus the zero-one loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from fairdarts_core.losses import ZERO_ONE_FORMS, zero_one_loss
from fairdarts_core.variant import Variant


def _fair_paper() -> dict[str, Any]:
    # FairDARTS search on CIFAR-10: batch 128, lr 0.005 -> 0.001, Adam 3e-3.
    return {"epochs": 50, "batch_size": 128, "learning_rate": 0.005, "learning_rate_min": 0.001,
            "arch_learning_rate": 3e-3}


@dataclass(frozen=True)
class FairDARTS(Variant):
    name = "fair_darts"

    parse_method: str = "threshold_sparse"
    zero_one_weight: float = 10.0  # w in CE + w * L01; 0 turns the loss off
    zero_one_form: str = "l2"
    use_softmax: bool = False  # ablation: keep DARTS' softmax but add the zero-one loss
    paper_search: dict[str, Any] = field(default_factory=_fair_paper, compare=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.zero_one_form not in ZERO_ONE_FORMS:
            raise ValueError(f"unknown zero-one form {self.zero_one_form!r}; valid: {', '.join(ZERO_ONE_FORMS)}")
        if self.zero_one_weight < 0:
            raise ValueError(f"zero_one_weight must be >= 0, got {self.zero_one_weight}")

    @property
    def activation(self) -> str:  # type: ignore[override]
        return "softmax" if self.use_softmax else "sigmoid"

    def init_alphas(self, shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        return torch.zeros(shape)

    def activate(self, alphas: torch.Tensor) -> torch.Tensor:
        return torch.softmax(alphas, dim=-1) if self.use_softmax else torch.sigmoid(alphas)

    def arch_loss(self, weights: dict[str, torch.Tensor]) -> torch.Tensor | None:
        if self.zero_one_weight == 0:
            return None
        stacked = torch.cat([weights["normal"], weights["reduce"]])
        return self.zero_one_weight * zero_one_loss(stacked, self.zero_one_form)
