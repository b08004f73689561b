"""FLOPs-matched random baseline: uniform random cells of the space whose paper-scale network (thop
FLOPs, as the tables count them) lies within a window around a target, so that a method's gain over
random cannot come from size alone."""

from __future__ import annotations

from dataclasses import dataclass

from fairdarts_core.genotype import Genotype

from .random_darts import RandomCells

# The mean FLOPs (M) of the searched DARTS-space cells of results/variants (8 variants x 2 seeds: 260-572, mean 379).
DARTS_TARGET_M = 380.0


@dataclass(frozen=True)
class RandomFlopsMatched(RandomCells):
    name = "random_flops_matched"
    summary = "uniform random cells within a FLOPs window (DARTS space: 380M +- 10% unless set)"

    # target FLOPs (M, thop) of the paper-scale network; unset: 380 in the DARTS space (the mean of results/variants' searched cells), none elsewhere (uniform)
    flops_target_m: float | None = None
    flops_tolerance: float = 0.1  # the window: target x (1 +- tolerance)

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.flops_target_m is not None and self.flops_target_m <= 0) or not 0 < self.flops_tolerance < 1:
            raise ValueError("random_flops_matched needs flops_target_m > 0 and 0 < flops_tolerance < 1")

    def target(self, space) -> float | None:
        """The FLOPs target in this space: the option, else DARTS_TARGET_M in the DARTS space, else None."""
        return self.flops_target_m if self.flops_target_m is not None else \
            (DARTS_TARGET_M if space.name == "darts" else None)

    def qualifies(self, genotype: Genotype, space) -> bool:
        target = self.target(space)
        return target is None or abs(space.profile(genotype)["flops_m"] - target) <= self.flops_tolerance * target

    def wanted(self, space) -> str:
        target = self.target(space)
        return "no FLOPs target" if target is None else f"FLOPs {target:g}M +- {self.flops_tolerance:.0%}"
