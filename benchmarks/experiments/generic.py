"""The table of a study that is not registered (a spec of a script's or a test's own, run through
`benchmarks.driver.run`): one row per (setting, parse), mean +- std over seeds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .stats import count, groups, mean_std

NAME = "generic"
TITLE = "A study"


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    return pd.DataFrame([{"Row": row, "Accuracy %": mean_std(ok["test_acc"]), "FLOPs (M)": mean_std(ok["flops_m"], 0),
                          "Params (M)": mean_std(ok["params_m"], 2), "Skips (normal)": mean_std(ok["skips_normal"], 1),
                          "n": count(group, ok)}
                         for row, group, ok in groups(trials)])


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    return []
