"""The regularizers by name: components any variant's search can carry (`Variant.regularizers`, `darts-bench
search --regularizer NAME`). A new one is a module here (a `Regularizer`, `base.py`) plus its line in
REGULARIZERS. They live in the core, beside the spaces, because the core resolves them: `Variant` checks
the names when it is built and `SearchRun` calls their hooks."""

from __future__ import annotations

from ..registry import Registry
from .base import Regularizer
from .beta import BetaDecay
from .rdarts import RDARTSL2, RDARTSEarlyStop
from .sdarts import SDARTSAdversarial, SDARTSRandom

REGULARIZERS: Registry[type[Regularizer]] = Registry("regularizer", {
    "sdarts_rs": SDARTSRandom,
    "sdarts_adv": SDARTSAdversarial,
    "beta": BetaDecay,
    "rdarts_l2": RDARTSL2,
    "rdarts_es": RDARTSEarlyStop,
})


def regularizer_fields() -> dict[str, list[str]]:
    """{option: the regularizers that have it}, over every registered regularizer."""
    from dataclasses import fields

    owners: dict[str, list[str]] = {}
    for name, cls in REGULARIZERS.items():
        for f in fields(cls):
            owners.setdefault(f.name, []).append(name)
    return owners


__all__ = ["REGULARIZERS", "Regularizer", "regularizer_fields"]
