"""Random DARTS: no search; random DARTS-style genotypes with exactly k normal-cell skips and a FLOPs floor."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fairdarts_core.genotype import Genotype
from fairdarts_core.metrics import profile_genotype
from fairdarts_core.space import NUM_EDGES
from fairdarts_core.variant import Variant


@dataclass(frozen=True)
class RandomDARTS(Variant):
    name = "random_darts"
    searches = False

    skips: int = 2  # exactly this many skip connections in the normal cell
    flops_floor_m: float = 500.0  # of the evaluation network, C=36, 20 cells (thop multiply-adds)
    count: int = 8  # architectures to sample
    max_draws: int = 20_000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.skips < 0 or self.count < 1:
            raise ValueError("random_darts needs skips >= 0 and count >= 1")

    def sample(self, seed: int) -> list[Genotype]:
        """`count` genotypes drawn with alpha = 1e-3 * randn and the DARTS rule, redrawn until they qualify."""
        gen = torch.Generator().manual_seed(seed)
        found: list[Genotype] = []
        for _ in range(self.max_draws):
            shape = (NUM_EDGES, len(self.primitives))
            weights = {name: self.activate(self.init_alphas(shape, gen)) for name in ("normal", "reduce")}
            genotype = self.parse(weights)
            if genotype.skip_count("normal") != self.skips or genotype in found:
                continue
            if profile_genotype(genotype)["flops_m"] < self.flops_floor_m:
                continue
            found.append(genotype)
            if len(found) == self.count:
                return found
        raise ValueError(f"random_darts: found only {len(found)} of {self.count} genotypes with {self.skips} "
                         f"skips and >= {self.flops_floor_m}M FLOPs in {self.max_draws} draws")
