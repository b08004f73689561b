"""The search spaces by name, and the genotype families their genotypes belong to.

A new space is one module here plus its line in SPACES (and its family's line in
GENOTYPE_FAMILIES if it brings a new kind of genotype)."""

from __future__ import annotations

from .base import GenotypeFamily, SearchSpace
from .darts import DARTS
from .darts import FAMILY as DARTS_FAMILY
from .nb201 import FAMILY as NB201_FAMILY
from .nb201 import NB201
from .rdarts import S1, S2, S3, S4

SPACES: dict[str, SearchSpace] = {
    "darts": DARTS,
    "nb201": NB201,
    "s1": S1,
    "s2": S2,
    "s3": S3,
    "s4": S4,
}

# Text forms are tried in this order; the DARTS family reads whatever no other family claims.
GENOTYPE_FAMILIES: dict[str, GenotypeFamily] = {
    "nb201": NB201_FAMILY,
    "darts": DARTS_FAMILY,
}


def get_space(name: str) -> SearchSpace:
    """The space `name`; an unknown name is a ValueError listing the valid ones."""
    try:
        return SPACES[name]
    except KeyError:
        raise ValueError(f"unknown space {name!r}; valid: {', '.join(SPACES)}") from None


def space_of(genotype) -> SearchSpace:
    """The first registered space whose networks build this genotype's family."""
    return next(space for space in SPACES.values() if space.family == genotype.family)


__all__ = ["GENOTYPE_FAMILIES", "SPACES", "GenotypeFamily", "SearchSpace", "get_space", "space_of"]
