"""The search variants by name. Each is a small delta against DARTS on the Variant interface."""

from __future__ import annotations

from fairdarts_core.variant import Variant

from .darts import DARTS
from .fair_darts import FairDARTS
from .noisy_darts import NoisyDARTS
from .random_darts import RandomDARTS

VARIANTS: dict[str, type[Variant]] = {
    "darts": DARTS,
    "fair_darts": FairDARTS,
    "noisy_darts": NoisyDARTS,
    "random_darts": RandomDARTS,
}


def make_variant(name: str, **options) -> Variant:
    """The variant `name` with field overrides; unknown names and options are errors listing the valid ones."""
    try:
        cls = VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; valid: {', '.join(VARIANTS)}") from None
    return cls().with_options(**options)


__all__ = ["VARIANTS", "Variant", "make_variant", "DARTS", "FairDARTS", "NoisyDARTS", "RandomDARTS"]
