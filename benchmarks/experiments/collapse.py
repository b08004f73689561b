"""Collapse: DARTS vs noise DARTS vs FairDARTS (random DARTS as a floor) over seeds: skip connections
per epoch, discretization gap, final accuracy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..spec import Experiment, Setting
from .stats import mean_std

NAME = "collapse"
SEEDS = {"paper": 3, "quick": 3, "smoke": 2}


def build(preset: str, seeds: int | None = None, **_) -> Experiment:
    settings = [Setting("DARTS", "darts"), Setting("noise DARTS", "noisy_darts"), Setting("FairDARTS", "fair_darts")]
    if preset != "smoke":  # separates the zero-one loss from the sigmoid
        settings.append(Setting("FairDARTS w=0", "fair_darts", {"zero_one_weight": 0.0}))
    settings.append(Setting("random DARTS", "random_darts"))
    n = seeds or SEEDS[preset]
    return Experiment(NAME, "Skip-connection collapse across variants", tuple(settings), tuple(range(n)),
                      search_preset=preset, train_preset=preset)


def table(trials: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for label in dict.fromkeys(trials["label"]):
        group = trials[trials["label"] == label]
        ok = group[group["status"] == "ok"]
        rows.append({
            "Variant": label,
            "Skips normal": mean_std(ok["skips_normal"], 1),
            "Skips reduce": mean_std(ok["skips_reduce"], 1),
            "Disc. gap (pts)": mean_std(ok.get("search_disc_gap", pd.Series(dtype=float)), 1),
            "Near 0/1": mean_std(ok.get("search_near_01", pd.Series(dtype=float)), 2),
            "FLOPs (M)": mean_std(ok["flops_m"], 0),
            "Accuracy %": mean_std(ok["test_acc"]),
            "n": f"{len(ok)}" + (f" ({len(group) - len(ok)} failed)" if len(group) > len(ok) else ""),
        })
    return pd.DataFrame(rows)


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame) -> list[Path]:
    from .. import plots

    search = epochs[epochs["stage"] == "search"]
    paths = []
    if not search.empty:
        figures_dir = out / "figures"
        paths.append(plots.plot_skip_counts(search, figures_dir / "skip_counts.png"))
        paths.append(plots.plot_epoch_bands(search, ("disc_gap",), figures_dir / "disc_gap.png",
                                            "discretization gap (accuracy points)"))
        paths.append(plots.plot_epoch_bands(search, ("near_01",), figures_dir / "near_01.png",
                                            "fraction of weights within 0.1 of 0 or 1"))
    ok = trials[trials["status"] == "ok"]
    summary = ok.groupby("label", sort=False).agg(acc=("test_acc", "mean"), acc_std=("test_acc", "std")).reset_index()
    paths.append(plots.plot_bar_with_error(summary, out / "figures" / "accuracy.png", x="label", y="acc",
                                           yerr="acc_std", title="Accuracy after training"))
    return paths
