"""Uniform random baseline: cells drawn uniformly from the space, no constraint (Yang et al., ICLR 2020,
"NAS evaluation is frustratingly hard": the random sample every method's gain is measured against)."""

from __future__ import annotations

from dataclasses import dataclass

from .random_darts import RandomCells


@dataclass(frozen=True)
class RandomUniform(RandomCells):
    name = "random_uniform"
    summary = "uniform random cells of the space (Yang et al. 2020), no constraint"
