"""Genotype families: the validation and the JSON and text forms of each kind of genotype, without
torch, so that genotypes load, print and validate before (or without) any network is built.

A space builds networks for one family (`SearchSpace.family`); several spaces share one (the DARTS
space and the R-DARTS spaces). A new kind of genotype is one module here plus its line below.
"""

from __future__ import annotations

from ..registry import Registry
from .base import GenotypeFamily
from .darts import FAMILY as DARTS_FAMILY
from .nb201 import FAMILY as NB201_FAMILY

# Text forms are tried in this order; the DARTS family reads whatever no other family claims.
GENOTYPE_FAMILIES: Registry[GenotypeFamily] = Registry("genotype family", {
    "nb201": NB201_FAMILY,
    "darts": DARTS_FAMILY,
})

__all__ = ["GENOTYPE_FAMILIES", "GenotypeFamily"]
