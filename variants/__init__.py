"""The search variants and samplers by name. A variant is a small delta against DARTS on the
Variant interface; a sampler draws genotypes instead of searching. A new method is one module here
plus its line in VARIANTS or SAMPLERS."""

from __future__ import annotations

from fairdarts_core.registry import Registry
from fairdarts_core.variant import Options, Sampler, Variant

from .beta_darts import BetaDARTS
from .darts import DARTS, DARTSV1, DARTSV2
from .darts_minus import DARTSMinus
from .drnas import DrNAS
from .fair_darts import FairDARTS
from .fixed_alpha import FixedAlpha
from .gdas import GDAS
from .noisy_darts import NoisyDARTS
from .p_darts import PDARTS
from .pc_darts import PCDARTS
from .random_darts import RandomDARTS
from .random_flops_matched import RandomFlopsMatched
from .random_uniform import RandomUniform
from .rdarts import RDARTSES, RDARTSL2
from .sdarts import SDARTSADV, SDARTSRS

VARIANTS: Registry[type[Variant]] = Registry("variant", {
    "darts": DARTS,
    "darts_v1": DARTSV1,
    "darts_v2": DARTSV2,
    "darts_minus": DARTSMinus,
    "drnas": DrNAS,
    "fair_darts": FairDARTS,
    "fixed_alpha": FixedAlpha,
    "gdas": GDAS,
    "noisy_darts": NoisyDARTS,
    "p_darts": PDARTS,
    "pc_darts": PCDARTS,
    "sdarts_rs": SDARTSRS,
    "sdarts_adv": SDARTSADV,
    "beta_darts": BetaDARTS,
    "rdarts_l2": RDARTSL2,
    "rdarts_es": RDARTSES,
})
SAMPLERS: Registry[type[Sampler]] = Registry("sampler", {
    "random_darts": RandomDARTS,
    "random_uniform": RandomUniform,
    "random_flops_matched": RandomFlopsMatched,
})
METHODS: Registry[type[Options]] = Registry("variant", {**VARIANTS, **SAMPLERS})


def make_method(name: str, **options) -> Variant | Sampler:
    """The variant or sampler `name` with field overrides; unknown names and options are errors
    listing the valid ones."""
    return METHODS.get(name)().with_options(**options)


def make_variant(name: str, **options) -> Variant:
    """The searching variant `name` with field overrides."""
    method = make_method(name, **options)
    if not isinstance(method, Variant):
        raise ValueError(f"{name} does not search, it samples genotypes; searching variants: {', '.join(VARIANTS)}")
    return method


__all__ = ["METHODS", "SAMPLERS", "VARIANTS", "Sampler", "Variant", "make_method", "make_variant",
           "DARTS", "DARTSV1", "DARTSV2", "FairDARTS", "NoisyDARTS", "RandomDARTS",
           "RandomFlopsMatched", "RandomUniform"]
