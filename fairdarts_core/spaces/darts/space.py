"""The DARTS cell space: normal and reduction cells of 4 nodes over 2 inputs, 14 edges, output the
concat of the intermediate nodes. Its genotypes, op names and text form are the DARTS family
(`fairdarts_core.families.darts`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...families.darts import PRIMITIVES
from ...genotype import Genotype
from ..base import SearchSpace
from .evalnet import NetworkCIFAR
from .parse import PARSE_METHODS
from .profile import cached_profile
from .supernet import SearchNetwork, search_op


@dataclass(frozen=True)
class DartsCellSpace(SearchSpace):
    """A space over the DARTS cell: the DARTS space itself and the R-DARTS reduced op sets."""

    parse_rules = PARSE_METHODS
    network = SearchNetwork
    op_builder = staticmethod(search_op)

    def evalnet(self, genotype, init_channels, layers, num_classes, auxiliary, fast=True):
        self.check_genotype(genotype)
        return NetworkCIFAR(genotype, init_channels, layers, num_classes, auxiliary=auxiliary, fast=fast)

    def profile(self, genotype, num_classes=10, init_channels=None, layers=None) -> dict[str, float]:
        self.check_genotype(genotype)
        return cached_profile(genotype, num_classes, init_channels, layers)

    def describe_profile(self, profile) -> str:
        return (f"{profile['flops_m']:.1f}M FLOPs (thop multiply-adds, BN removed), {profile['params_m']:.3f}M "
                f"params ({profile['params_with_aux_m']:.3f}M with the auxiliary head)")


DARTS = DartsCellSpace("darts", "the DARTS cell: 4 nodes, 14 edges, 7 ops (8 with 'none')", PRIMITIVES)


def genotype_mask(genotype: Genotype, primitives: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """One-hot weights of a DARTS-family genotype in the DARTS space: 1 on kept (edge, op), 0 elsewhere."""
    return DARTS.genotype_mask(genotype, PRIMITIVES if primitives is None else primitives)
