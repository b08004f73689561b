"""Ablation of the zero-one loss: its weight, its L1/L2 form, sigmoid vs softmax with and without it,
and the parse method x threshold. Mean +- std over seeds, Welch's t-test of accuracy against the default."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..spec import Experiment, Setting
from .stats import fmt_p, mean_std, welch_p

NAME = "ablation"
DEFAULT = "sigmoid, L2, w=10, sparse 0.85"
SEEDS = {"paper": 3, "quick": 2, "smoke": 2}
WEIGHTS = {"paper": (0, 1, 5, 10, 15, 20), "quick": (0, 1, 5, 10, 15, 20), "smoke": (10, 20)}


def settings(preset: str, weights: tuple[float, ...] | None = None) -> tuple[Setting, ...]:
    out = [Setting(DEFAULT, "fair_darts")]
    for w in weights or WEIGHTS[preset]:
        if w != 10:
            out.append(Setting(f"sigmoid, L2, w={w:g}", "fair_darts", {"zero_one_weight": float(w)}))
    out.append(Setting("sigmoid, L1, w=10", "fair_darts", {"zero_one_form": "l1"}))
    # Softmax weights over 7 ops rarely reach a 0.85 threshold: those settings parse with the DARTS rule.
    out.append(Setting("softmax, L2, w=10, darts parse", "fair_darts", {"use_softmax": True, "parse_method": "darts"}))
    if preset != "smoke":
        out.append(Setting("softmax, no L01, darts parse", "fair_darts",
                           {"use_softmax": True, "zero_one_weight": 0.0, "parse_method": "darts"}))
        out.append(Setting("sigmoid, w=10, sparse 0.6", "fair_darts", {"threshold": 0.6}))
        out.append(Setting("sigmoid, w=10, edge 0.85", "fair_darts", {"parse_method": "threshold_edge"}))
    out.append(Setting("sigmoid, w=10, darts parse", "fair_darts", {"parse_method": "darts"}))
    return tuple(out)


def build(preset: str, seeds: int | None = None, **_) -> Experiment:
    n = seeds or SEEDS[preset]
    return Experiment(NAME, "Zero-one loss ablation", settings(preset), tuple(range(n)),
                      search_preset=preset, train_preset=preset)


def table(trials: pd.DataFrame) -> pd.DataFrame:
    rows = []
    default = trials[(trials["label"] == DEFAULT) & (trials["status"] == "ok")]
    for label in dict.fromkeys(trials["label"]):
        group = trials[trials["label"] == label]
        ok = group[group["status"] == "ok"]
        failed = len(group) - len(ok)
        rows.append({
            "Setting": label,
            "Accuracy %": mean_std(ok["test_acc"]),
            "Disc. gap (pts)": mean_std(ok.get("search_disc_gap", pd.Series(dtype=float)), 1),
            "Near 0/1": mean_std(ok.get("search_near_01", pd.Series(dtype=float)), 2),
            "Skips (normal)": mean_std(ok["skips_normal"], 1),
            "FLOPs (M)": mean_std(ok["flops_m"], 0),
            "Params (M)": mean_std(ok["params_m"], 2),
            "p vs default": "-" if label == DEFAULT else fmt_p(welch_p(ok["test_acc"], default["test_acc"])),
            "n": f"{len(ok)}" + (f" ({failed} failed)" if failed else ""),
        })
    return pd.DataFrame(rows)


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame) -> list[Path]:
    from .. import plots

    ok = trials[trials["status"] == "ok"]
    summary = ok.groupby("label", sort=False).agg(acc=("test_acc", "mean"), acc_std=("test_acc", "std"),
                                                  gap=("search_disc_gap", "mean"), gap_std=("search_disc_gap", "std"))
    summary = summary.reset_index()
    return [
        plots.plot_bar_with_error(summary, out / "figures" / "accuracy.png", x="label", y="acc", yerr="acc_std",
                                  title="Accuracy after training (mean +- std over seeds)"),
        plots.plot_bar_with_error(summary, out / "figures" / "disc_gap.png", x="label", y="gap", yerr="gap_std",
                                  title="Discretization gap at the end of search (points)"),
    ]
