"""The NAS-Bench-201 ground truth of a cell: one look-up interface over a results table the user names.

A table is either a CSV file with a column `arch` (NB201 strings `|op~0|+|op~0|op~1|+|...|`) and numeric
columns (the layout of NAS-Bench-201's exported CIFAR-10 results: index, params_m, cifar10_test,
cifar10_valid, cifar10_valid_test), or a NATS-Bench topology file or folder, read through
`fairdarts_core.nats_lookup` (the `nats` extra), whose splits get the same flat column names
(`cifar10_valid`: cifar10-valid's x-valid, `cifar10_valid_test`: its ori-test, `cifar10_test`: cifar10's
ori-test, `cifar100_valid`, ...). `open_table(path)` reads a table once per process.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .families.nb201 import EDGES, PRIMITIVES
from .genotype import Genotype, GenotypeError

ARCH = "arch"
# The NB201 test accuracy column: the one percentiles are taken of, and the figures draw.
TEST_COLUMN = "cifar10_test"
PARAMETER_FREE = ("none", "skip_connect", "avg_pool_3x3")  # the NB201 ops without parameters
NATS_SUFFIXES = (".pbz2", ".pickle")


class TableError(ValueError):
    """A table that cannot be read, or a cell it does not hold: one line naming the problem."""


def _column_name(dataset: str, split: str) -> str:
    """NATS-Bench (dataset, split) -> the flat column name of the CSV layout."""
    base = dataset.lower().replace("-", "_")
    if dataset == "cifar10-valid":
        return {"valid": "cifar10_valid", "test": "cifar10_valid_test"}[split]
    return f"{base}_{split}"


@dataclass
class NB201Table:
    """Every cell's values by its NB201 string; `columns` are the table's numeric columns, in file order."""

    path: str
    kind: str  # "csv" or "nats"
    columns: tuple[str, ...]
    # cell -> values: every cell of a CSV; a NATS-Bench file's cells as they are asked for
    rows: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    _sorted: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # a column over all cells, sorted

    def lookup(self, arch: str | Genotype) -> dict[str, float]:
        """{column: value} of one cell (an NB201 string or genotype); a DARTS-space genotype or a cell the
        table lacks is a TableError."""
        key = canonical(arch)
        if key not in self.rows:
            if self.kind != "nats":
                raise TableError(f"cell {key} is not in the NB201 table {self.path}")
            self.rows[key] = _nats_row(key, self.path)
        return dict(self.rows[key])

    def values(self, column: str) -> np.ndarray:
        """One column over all the table's cells, sorted (a NATS-Bench file: every one of its 15,625, read
        once)."""
        if column not in self.columns:
            raise TableError(f"the NB201 table {self.path} has no column {column!r}; its columns: "
                             f"{', '.join(self.columns)}")
        if column not in self._sorted:
            if self.kind == "nats" and len(self.rows) < len(ALL_CELLS):
                for arch in ALL_CELLS:
                    self.lookup(arch)
            values = [row[column] for row in self.rows.values() if not math.isnan(row.get(column, math.nan))]
            self._sorted[column] = np.sort(np.array(values))
        return self._sorted[column]

    def percentile(self, column: str, value: float) -> float:
        """The share (%) of the table's cells whose `column` is at most `value`."""
        values = self.values(column)
        return 100.0 * float(np.searchsorted(values, value + 1e-9, side="right")) / len(values)

    def summary(self) -> dict[str, object]:
        """What a results folder records of the table: its file, the cells, and per accuracy column the
        mean, std and best over all cells (the expectation of a uniformly random cell and the optimum)."""
        stats = {}
        for column in self.columns:
            if column == "index":
                continue
            self.values(column)  # every cell read (NATS)
            values = np.array([row[column] for row in self.rows.values() if not math.isnan(row.get(column, math.nan))])
            stats[column] = {"mean": float(values.mean()), "std": float(values.std(ddof=0)),
                             "max": float(values.max()), "min": float(values.min())}
        return {"path": self.path, "kind": self.kind, "sha256": file_digest(self.path), "cells": len(self.rows),
                "columns": stats}


def canonical(arch: str | Genotype) -> str:
    """The benchmark's string of an NB201 cell; anything else is a TableError."""
    try:
        if isinstance(arch, Genotype):
            genotype = arch
        else:
            text = str(arch)
            genotype = Genotype.from_json(text) if text.lstrip().startswith("{") else Genotype.from_string(text)
    except GenotypeError as err:
        raise TableError(f"not an NB201 cell: {err}") from None
    if genotype.family != "nb201":
        raise TableError(f"the NB201 table holds NB201 cells; got a {genotype.family} genotype")
    return genotype.to_string()


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file (a folder: of its file names and sizes), to name the table a result used."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{item.relative_to(path)}:{item.stat().st_size}\n".encode())
    else:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


ALL_CELLS: tuple[str, ...] = tuple(
    "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops) for ops in itertools.product(PRIMITIVES, repeat=len(EDGES)))


def param_free_chance(at_least: int) -> float:
    """The share of all 15,625 NB201 cells with at least `at_least` of their 6 edges parameter-free: how
    often a uniformly random cell is 'skip-dominated' by chance."""
    hits = sum(sum(op in PARAMETER_FREE for op in ops) >= at_least
               for ops in itertools.product(PRIMITIVES, repeat=len(EDGES)))
    return hits / len(PRIMITIVES) ** len(EDGES)


@lru_cache(maxsize=8)
def _open(resolved: str, mtime_ns: int) -> NB201Table:
    path = Path(resolved)
    if path.is_dir() or path.name.endswith(NATS_SUFFIXES):
        return _open_nats(path)
    return _read_csv(path)


def open_table(path: str | os.PathLike) -> NB201Table:
    """The table at `path` (CSV or NATS-Bench), read once per process; a missing or unreadable file, or a
    CSV without an `arch` column, is a TableError."""
    path = Path(path)
    if not path.exists():
        raise TableError(f"no NB201 table at {path} (a CSV with an 'arch' column, or a NATS-Bench topology "
                         f"file or folder)")
    return _open(str(path.resolve()), path.stat().st_mtime_ns)


def _read_csv(path: Path) -> NB201Table:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            if ARCH not in header:
                raise TableError(f"{path} has no '{ARCH}' column (an NB201 table needs one, of NB201 strings); "
                                 f"its columns: {', '.join(header[:8]) or 'none'}")
            columns = tuple(c for c in header if c != ARCH)
            rows: dict[str, dict[str, float]] = {}
            for number, line in enumerate(reader, 2):
                arch = line[ARCH]
                if not rows:  # the first cell must be an NB201 string that the benchmark writes that way
                    try:
                        if canonical(arch) != arch:
                            raise TableError(f"{path} line 2: {arch!r} is not in the benchmark's string form")
                    except TableError as err:
                        raise TableError(f"{path} line {number}: {err}") from None
                rows[arch] = {c: _number(line[c], path, number, c) for c in columns}
    except UnicodeDecodeError:
        raise TableError(f"{path} is not a text CSV table") from None
    except csv.Error as err:
        raise TableError(f"{path} is not a CSV table: {err}") from None
    if not rows:
        raise TableError(f"{path} holds no cells")
    numeric = tuple(c for c in columns if any(not math.isnan(r[c]) for r in rows.values()))
    return NB201Table(str(path), "csv", numeric, rows)


def _number(text: str | None, path: Path, line: int, column: str) -> float:
    if text is None or text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise TableError(f"{path} line {line}: column {column!r} holds {text[:40]!r}, not a number") from None


NATS_DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")


def _nats_row(arch: str, path: str) -> dict[str, float]:
    from .nats_lookup import lookup

    try:
        found = lookup(arch, path, datasets=NATS_DATASETS)
    except ValueError as err:
        raise TableError(str(err)) from None
    return {"index": float(found["index"]),
            **{_column_name(d, s): v for d, splits in found["accuracy"].items() for s, v in splits.items()}}


def _open_nats(path: Path) -> NB201Table:
    """A NATS-Bench topology file or folder; cells are read when asked for (the api is opened once)."""
    from .nats_lookup import SPLITS

    first = _nats_row(ALL_CELLS[0], str(path))  # opens the benchmark: a bad file fails here, in one line
    columns = tuple(["index"] + [_column_name(d, s) for d in NATS_DATASETS for s in SPLITS[d]])
    return NB201Table(str(path), "nats", columns, {ALL_CELLS[0]: first})


def lookup_columns(table: NB201Table, arch: str | Genotype, prefix: str = "nb201_") -> Mapping[str, float]:
    """The table's values of a cell as result columns: nb201_<column>, plus nb201_percentile (of the test
    accuracy among all cells) when the table has cifar10_test."""
    values = table.lookup(arch)
    out = {f"{prefix}{k}": v for k, v in values.items()}
    if TEST_COLUMN in values:
        out[f"{prefix}percentile"] = table.percentile(TEST_COLUMN, values[TEST_COLUMN])
    return out
