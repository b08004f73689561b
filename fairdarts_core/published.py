"""The published genotypes of shared/reference/published_genotypes.json, under the same names."""

from __future__ import annotations

import json
from importlib import resources
from types import MappingProxyType
from typing import Mapping

from .genotype import Genotype


def _load() -> Mapping[str, Genotype]:
    text = resources.files(__package__).joinpath("data/published_genotypes.json").read_text(encoding="utf-8")
    return MappingProxyType({name: Genotype.from_dict(raw) for name, raw in json.loads(text).items()})


PUBLISHED_GENOTYPES: Mapping[str, Genotype] = _load()
