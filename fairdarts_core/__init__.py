"""fairdarts_core: search spaces, supernets, genotypes, parse methods, evaluation networks, data,
and the search and training loops shared by every variant. Never imports Ray.

The names below load their module on first use (PEP 562), so reading genotypes does not import torch."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "PARSE_METHODS": "spaces.darts.parse", "parse_genotype": "spaces.darts.parse",
    "genotype_mask": "spaces.darts.space", "profile_genotype": "spaces.darts.profile",
    "Genotype": "genotype", "GenotypeError": "genotype", "load_genotype": "genotype",
    "PUBLISHED_GENOTYPES": "published",
    "SPACES": "spaces", "get_space": "spaces",
    "DARTS_PRIMITIVES": "spaces.darts", "EDGES": "spaces.darts", "PRIMITIVES": "spaces.darts",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
