"""The published genotypes of shared/reference/published_genotypes.json, under the same names, and the
file of their paper-size profiles (written by `fairdarts_core.spaces.darts.profile`). Imports no torch,
so listing them is quick."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from .genotype import Genotype


def _load() -> Mapping[str, Genotype]:
    text = resources.files(__package__).joinpath("data/published_genotypes.json").read_text(encoding="utf-8")
    return MappingProxyType({name: Genotype.from_dict(raw) for name, raw in json.loads(text).items()})


PUBLISHED_GENOTYPES: Mapping[str, Genotype] = _load()


PROFILES_FILE = "data/published_profiles.json"


def thop_version() -> str:
    """The installed thop's version: the shipped profiles are used only when they were counted by it."""
    from importlib import metadata

    try:
        return metadata.version("thop")
    except metadata.PackageNotFoundError:
        return "absent"


def shipped_profiles() -> dict[str, dict[str, float]]:
    """The shipped profiles by genotype JSON, or {} when the file is missing or another thop counted them."""
    path = resources.files(__package__).joinpath(PROFILES_FILE)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["profiles"] if data.get("thop") == thop_version() else {}


def write_profiles(profiles: Mapping[str, Mapping[str, float]], network: str) -> str:
    """Write {genotype JSON: profile} of `network` as the shipped profiles, stamped with the thop
    version; returns the file's path."""
    path = Path(__file__).resolve().parent / PROFILES_FILE
    path.write_text(json.dumps({"thop": thop_version(), "network": network, "profiles": profiles}, indent=1) + "\n",
                    encoding="utf-8")
    return str(path)
