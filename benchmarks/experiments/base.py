"""What a study is: the `Study` protocol that each study module implements and the driver and the report
read (a module satisfies it with module-level names and functions). Optional: TABLE_NOTES (text under the
table) and write_files(out, trials) -> [paths] (files the report writes besides the table and figures)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from fairdarts_core.sizes import Sizes

    from ..spec import Experiment


@runtime_checkable
class Study(Protocol):
    NAME: str
    TITLE: str
    SEEDS: Mapping[str, int]  # {preset: how many seeds} unless --seeds says otherwise
    NEEDS_NB201_TABLE: bool  # its table is the NAS-Bench-201 look-up of its cells: --nb201-table is required

    def build(self, sizes: Sizes, seeds: tuple[int, ...], **options: Any) -> Experiment:
        """The study's spec at these sizes and seeds (options: study-specific, e.g. stability_dir, dataset)."""

    def table(self, trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
        """The results table from trials.csv (benchmark: the folder's NB201 table summary, or None)."""

    def figures(self, out: Path, trials: pd.DataFrame, epochs: pd.DataFrame,
                benchmark: dict | None = None) -> list[Path]:
        """Draw the study's figures into out/figures; their paths."""
