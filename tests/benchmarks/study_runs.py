"""Helpers of the study tests: run the CLI or the driver with stdout captured, read a results folder."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pandas as pd
import ray
from PIL import Image

from benchmarks.cli import build_parser


def experiment_args(name: str, out: Path, *extra: str) -> argparse.Namespace:
    """The Namespace the CLI builds for `darts-bench experiment NAME --preset smoke --out OUT --num-cpus 2`,
    on the CPU (whatever the machine has)."""
    return build_parser().parse_args(["experiment", name, "--preset", "smoke", "--out", str(out), "--num-cpus", "2",
                                      "--device", "cpu", *extra])


def captured(function, *args) -> tuple[object, str]:
    """function(*args) with its stdout captured; Ray must be down afterwards, whatever happened."""
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            value = function(*args)
    finally:
        assert not ray.is_initialized(), "the driver left Ray running"
    return value, stdout.getvalue()


def trials_of(out: Path) -> pd.DataFrame:
    trials = pd.read_csv(out / "trials.csv", dtype={"parse": str, "trained_as": str, "error": str})
    return trials.fillna({"parse": "", "trained_as": "", "error": ""})


def table_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "table.csv", dtype=str, keep_default_na=False)


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 0, path
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 200 and image.height >= 100
        assert image.convert("L").getextrema()[0] < 128, f"{path} is blank"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
