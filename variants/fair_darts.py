"""FairDARTS: independent sigmoid weights (collaborative competition) plus the zero-one loss."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import torch

from fairdarts_core.losses import zero_one_loss
from fairdarts_core.variant import Variant


@dataclass(frozen=True)
class FairDARTS(Variant):
    name = "fair_darts"
    summary = "FairDARTS (sigmoid weights, zero-one loss)"
    default_parse = "threshold_sparse"
    # FairDARTS search on CIFAR-10: 50 epochs, batch 128, SGD lr 0.005 -> 0.001, Adam 3e-3 (wd 1e-3).
    paper_search = MappingProxyType({"epochs": 50, "batch_size": 128, "learning_rate": 0.005,
                                     "learning_rate_min": 0.001, "arch_learning_rate": 3e-3})

    zero_one_weight: float = 10.0  # w in CE + w * L01; 0 turns the loss off
    zero_one_form: Literal["l2", "l1"] = "l2"  # L01 = -mean((w - 0.5)^2) (l2) or -mean(|w - 0.5|) (l1)
    use_softmax: bool = False  # ablation: DARTS' softmax weights, with the zero-one loss

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.zero_one_weight < 0:
            raise ValueError(f"zero_one_weight must be >= 0, got {self.zero_one_weight}")

    @property
    def activation(self) -> str:  # type: ignore[override]
        return "softmax" if self.use_softmax else "sigmoid"

    def init_arch(self, name: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.zeros(shape)

    def activate(self, alphas: torch.Tensor) -> torch.Tensor:
        return torch.softmax(alphas, dim=-1) if self.use_softmax else torch.sigmoid(alphas)

    def arch_loss(self, weights) -> torch.Tensor | None:
        if self.zero_one_weight == 0:
            return None
        stacked = torch.cat(list(weights.values()))  # every cell kind's (edges, ops), stacked
        return self.zero_one_weight * zero_one_loss(stacked, self.zero_one_form)

    def indicators(self, weights) -> dict[str, float]:
        """The zero-one loss in the form this search trains with."""
        return {"zero_one_loss": zero_one_loss(torch.cat(list(weights.values())), self.zero_one_form).item()}
