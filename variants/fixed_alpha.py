"""Fixed alpha: the supernet trained with uniform, frozen architecture weights and no arch step, for DARTS-PT's
"fix-alpha" (blank) mode (Wang et al., ICLR 2021; official --method blank, nasbench201/architect_ig.py: the
architect's step leaves alpha alone). Its genotype comes from the perturbation-based selection after the search."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fairdarts_core.variant import Progress, Variant

from .darts import DARTSV1


@dataclass(frozen=True)
class FixedAlpha(Variant):
    name = "fixed_alpha"
    summary = ("Fixed alpha (DARTS-PT blank mode: uniform frozen weights, no arch step; parse: perturbation, run "
               "after the search; any parse of the uniform weights alone is meaningless)")
    default_parse = "perturbation"
    paper_search = DARTSV1.paper_search  # DARTS-PT's search: DARTS' settings, Adam betas (0.5, 0.999)
    # The DARTS space's 7 ops without 'none', as DARTS-PT's s5 (sota/cnn/spaces.py): with_none unset.

    def init_arch(self, name: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.zeros(shape)

    def activate(self, alphas: torch.Tensor) -> torch.Tensor:
        """Uniform over the ops an edge holds, whatever the alphas hold: their gradient is 0 (a single-level
        step cannot move the weights; the -inf of ops an edge lacks stay)."""
        return torch.softmax(torch.where(torch.isfinite(alphas), alphas * 0, alphas), dim=-1)

    def arch_step(self, progress: Progress) -> bool:
        return False
