"""fairdarts_core: search spaces, supernets, genotypes, parse methods, evaluation networks, data,
and the search and training loops shared by every variant. Never imports Ray."""

from .discretize import PARSE_METHODS, genotype_mask, parse_genotype
from .genotype import Genotype, GenotypeError, load_genotype
from .metrics import profile_genotype
from .published import PUBLISHED_GENOTYPES
from .spaces import SPACES, get_space
from .spaces.darts import DARTS_PRIMITIVES, EDGES, PRIMITIVES

__all__ = [
    "DARTS_PRIMITIVES", "EDGES", "PARSE_METHODS", "PRIMITIVES", "PUBLISHED_GENOTYPES", "SPACES", "Genotype",
    "GenotypeError", "genotype_mask", "get_space", "load_genotype", "parse_genotype", "profile_genotype",
]
