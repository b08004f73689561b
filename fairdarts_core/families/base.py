"""The interface of a genotype family: how its genotypes are validated and written as JSON and text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..genotype import Genotype


class GenotypeFamily:
    """Validation and JSON / text forms of one family of genotypes."""

    name: str = ""

    def validate(self, genotype: Genotype) -> None:
        raise NotImplementedError

    def to_dict(self, genotype: Genotype) -> dict[str, Any]:
        raise NotImplementedError

    def from_dict(self, data: Mapping[str, Any]) -> Genotype:
        raise NotImplementedError

    def reads(self, text: str) -> bool:
        """True if `text` is written in this family's text form."""
        raise NotImplementedError

    def to_text(self, genotype: Genotype) -> str:
        raise NotImplementedError

    def from_text(self, text: str) -> Genotype:
        raise NotImplementedError
