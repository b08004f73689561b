"""Random DARTS: no search; random genotypes of a space, drawn as a DARTS search would parse random
alphas. In the DARTS space the published setting asks for exactly k skip connections in the normal
cell and a FLOPs floor of the C=36, 20-cell network. `RandomCells` is the draw every random sampler shares."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fairdarts_core.genotype import Genotype
from fairdarts_core.supernet import mask_arch
from fairdarts_core.variant import Sampler

from .darts import DARTS


@dataclass(frozen=True)
class RandomCells(Sampler):
    """Genotypes parsed by the DARTS rule from alpha = 1e-3 * randn: every edge choice and op equally likely
    (uniform over the space's cells), redrawn until `qualifies` accepts them."""

    name = "random_cells"
    summary = "random cells (DARTS rule on alpha = 1e-3 randn)"

    count: int = 8  # architectures to sample
    max_draws: int = 20_000  # draws before giving up

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.count < 1:
            raise ValueError(f"{self.name} needs count >= 1")

    def qualifies(self, genotype: Genotype, space) -> bool:
        """Whether a drawn genotype is kept (here: every one)."""
        return True

    def wanted(self, space) -> str:
        """The constraint a kept genotype meets, for the error when too few are found."""
        return "no constraint"

    def sample(self, seed: int, space) -> list[Genotype]:
        """`count` distinct genotypes parsed from alpha = 1e-3 * randn, redrawn until they qualify."""
        darts = DARTS()
        primitives = darts.primitives(space)
        masks = space.op_masks(primitives)
        gen = torch.Generator().manual_seed(seed)
        found: list[Genotype] = []
        for _ in range(self.max_draws):
            arch = {name: darts.init_arch(name, shape, gen) for name, shape in darts.arch_shapes(space, primitives).items()}
            genotype = darts.parse(darts.weights(mask_arch(arch, masks), space), space, primitives, masks)
            if genotype in found or not self.qualifies(genotype, space):
                continue
            found.append(genotype)
            if len(found) == self.count:
                return found
        raise ValueError(f"{self.name}: found only {len(found)} of {self.count} genotypes ({self.wanted(space)}) in "
                         f"{self.max_draws} draws")


@dataclass(frozen=True)
class RandomDARTS(RandomCells):
    name = "random_darts"
    summary = "random DARTS (random genotypes: DARTS rule on alpha = 1e-3 randn)"

    skips: int | None = None  # exactly this many skip connections in the first cell (DARTS space: 2); unset: any
    flops_floor_m: float | None = None  # least FLOPs (M, thop) of the paper-scale network (DARTS space: 500); unset: none

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.skips is not None and self.skips < 0:
            raise ValueError("random_darts needs skips >= 0 and count >= 1")

    def constraints(self, space) -> tuple[int | None, float | None]:
        """(skips, FLOPs floor): the published 2 and 500M in the DARTS space, unless set."""
        published = space.name == "darts"
        return (2 if self.skips is None and published else self.skips,
                500.0 if self.flops_floor_m is None and published else self.flops_floor_m)

    def qualifies(self, genotype: Genotype, space) -> bool:
        skips, floor = self.constraints(space)
        if skips is not None and genotype.skip_count() != skips:
            return False
        return floor is None or space.profile(genotype)["flops_m"] >= floor

    def wanted(self, space) -> str:
        skips, floor = self.constraints(space)
        return f"skips {skips}, FLOPs >= {floor}M"
