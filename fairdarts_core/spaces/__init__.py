"""The search spaces by name.

A new space is one module (or package) here plus its line in SPACES (and, if it brings a new kind of
genotype, a family in `fairdarts_core.families`). A new parse method is one function in its space's
parse module plus its entry in that space's `PARSE_METHODS`."""

from __future__ import annotations

from ..families import GENOTYPE_FAMILIES, GenotypeFamily
from ..registry import Registry
from .base import SELECTION_METHODS, SearchSpace
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


def parse_methods() -> dict[str, str]:
    """Every space's parse methods, name -> its one-line summary (the first line of its function's
    docstring), in the order of SPACES: the choices of `Variant.parse_method` and of the CLI."""
    methods: dict[str, str] = {}
    for space in SPACES.values():
        for name, rule in space.parse_rules.items():
            methods.setdefault(name, (rule.__doc__ or "").strip().split("\n")[0].rstrip("."))
    methods.update(SELECTION_METHODS)
    return methods


__all__ = ["DEFAULT_SPACE", "GENOTYPE_FAMILIES", "SPACES", "GenotypeFamily", "SearchSpace", "get_space", "parse_methods", "space_of"]
