"""The search spaces by name.

A new space is one module here plus its line in SPACES (and, if it brings a new kind of genotype,
a family in `fairdarts_core.families`)."""

from __future__ import annotations

from ..families import GENOTYPE_FAMILIES, GenotypeFamily
from ..registry import Registry
from .base import SearchSpace
from .darts import DARTS
from .nb201 import NB201
from .rdarts import S1, S2, S3, S4

SPACES: Registry[SearchSpace] = Registry("space", {
    "darts": DARTS,
    "nb201": NB201,
    "s1": S1,
    "s2": S2,
    "s3": S3,
    "s4": S4,
})
DEFAULT_SPACE = "darts"  # a run's space when none is named


def get_space(name: str) -> SearchSpace:
    """The space `name`; an unknown name is a ValueError listing the valid ones."""
    return SPACES.get(name)


def space_of(genotype) -> SearchSpace:
    """The first registered space whose networks build this genotype's family."""
    return next(space for space in SPACES.values() if space.family == genotype.family)


__all__ = ["DEFAULT_SPACE", "GENOTYPE_FAMILIES", "SPACES", "GenotypeFamily", "SearchSpace", "get_space", "space_of"]
