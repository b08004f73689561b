"""The interface a search variant implements: the small delta it makes against DARTS.

A variant says how alphas become weights, which extra architecture loss it adds, which hooks it
puts on op outputs, its op set and alpha init, and how it discretizes. The shared search loop
(`fairdarts_core.search`) calls these and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import torch
from torch import nn

from .discretize import DEFAULT_THRESHOLD, PARSE_METHODS, parse_genotype
from .genotype import Genotype
from .space import PRIMITIVES


@dataclass(frozen=True)
class Variant:
    """DARTS itself: softmax weights, alpha = 1e-3 * randn, no extra loss, the DARTS parse rule."""

    name: ClassVar[str] = "darts"
    activation: ClassVar[str] = "softmax"
    searches: ClassVar[bool] = True  # False: the variant samples genotypes instead (random DARTS)

    primitives: tuple[str, ...] = PRIMITIVES
    parse_method: str = "darts"
    threshold: float = DEFAULT_THRESHOLD
    # Published search hyperparameters (CIFAR-10) that differ per variant; the paper preset uses them.
    paper_search: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.parse_method not in PARSE_METHODS:
            raise ValueError(f"unknown parse method {self.parse_method!r}; valid: {', '.join(PARSE_METHODS)}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        object.__setattr__(self, "primitives", tuple(self.primitives))

    def init_alphas(self, shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        return 1e-3 * torch.randn(shape, generator=generator)

    def activate(self, alphas: torch.Tensor) -> torch.Tensor:
        """(edges, ops) alphas -> (edges, ops) weights."""
        return torch.softmax(alphas, dim=-1)

    def weights(self, model: nn.Module) -> dict[str, torch.Tensor]:
        return {name: self.activate(a) for name, a in model.alphas().items()}

    def arch_loss(self, weights: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """An extra loss on the weights, added to the cross-entropy in both steps; None for none."""
        return None

    def attach(self, model: nn.Module) -> None:
        """Register hooks on the supernet's modules (noise on skips, ...); nothing by default."""

    def start_epoch(self, epoch: int) -> None:
        """Called before every search epoch (schedules)."""

    def parse(self, weights: dict[str, torch.Tensor]) -> Genotype:
        return parse_genotype(weights["normal"], weights["reduce"], self.parse_method, self.threshold,
                              self.primitives)

    def options(self) -> dict[str, Any]:
        """The variant's settings as plain values (for manifests and tables)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.compare}

    def with_options(self, **overrides: Any) -> "Variant":
        """A copy with some fields changed; unknown names are an error that lists the valid ones."""
        known = {f.name for f in fields(self) if f.compare}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"variant {self.name} has no option(s) {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(sorted(known))}")
        return replace(self, **overrides)
