"""fairdarts_core: the DARTS search space, supernet, genotypes, parse methods, evaluation networks,
data, and the search and training loops shared by every variant. Never imports Ray."""

from .discretize import PARSE_METHODS, genotype_mask, parse_genotype
from .genotype import Genotype, GenotypeError, load_genotype
from .metrics import profile_genotype
from .published import PUBLISHED_GENOTYPES
from .space import DARTS_PRIMITIVES, EDGES, PRIMITIVES

__all__ = [
    "DARTS_PRIMITIVES", "EDGES", "PARSE_METHODS", "PRIMITIVES", "PUBLISHED_GENOTYPES", "Genotype",
    "GenotypeError", "genotype_mask", "load_genotype", "parse_genotype", "profile_genotype",
]
