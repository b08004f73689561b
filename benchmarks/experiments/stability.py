"""Stability: FairDARTS searched with 7 seeds (threshold_sparse, sigma 0.85, w = 10), each genotype
profiled and trained. The table has the published one's format, one row per seed, then mean +- std
and a 95% interval."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from fairdarts_core.spaces.darts.parse import DEFAULT_THRESHOLD

from ..spec import Experiment, Setting
from .stats import ci95, mean_std

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "stability"
TITLE = "FairDARTS stability over seeds"
SEEDS = {"paper": 7, "quick": 7, "smoke": 2}
NEEDS_NB201_TABLE = False


def build(sizes: Sizes, seeds: tuple[int, ...], **_) -> Experiment:
    return Experiment(NAME, TITLE, (Setting("FairDARTS", "fair_darts"),), seeds, sizes,
                      protocol=f"FairDARTS (sigmoid, zero-one loss w=10, threshold_sparse {DEFAULT_THRESHOLD:g}), one "
                               "search and one training per seed")


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    ok = trials[trials["status"] == "ok"].sort_values("seed")
    rows = [{"Model": f"FairDARTS_seed{int(r.seed)}", "FLOPs": f"{r.flops_m:.0f}M", "Params": f"{r.params_m:.2f}M",
             "Params with aux": f"{r.params_with_aux_m:.2f}M", "Accuracy %": f"{r.test_acc:.2f}"}
            for r in ok.itertuples()]
    for r in trials[trials["status"] != "ok"].itertuples():
        rows.append({"Model": f"FairDARTS_seed{int(r.seed)}", "FLOPs": "-", "Params": "-", "Params with aux": "-",
                     "Accuracy %": f"FAILED: {r.error}"})
    rows.append({"Model": "mean +- std", "FLOPs": mean_std(ok["flops_m"], 1) + "M",
                 "Params": mean_std(ok["params_m"], 2) + "M", "Params with aux": mean_std(ok["params_with_aux_m"], 2) + "M",
                 "Accuracy %": mean_std(ok["test_acc"], 2)})
    rows.append({"Model": "95% interval of the mean", "FLOPs": ci95(ok["flops_m"], 0),
                 "Params": ci95(ok["params_m"], 2), "Params with aux": ci95(ok["params_with_aux_m"], 2),
                 "Accuracy %": ci95(ok["test_acc"], 2)})
    return pd.DataFrame(rows)


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    from .. import plots

    ok = trials[trials["status"] == "ok"].copy()
    ok["model"] = ["seed " + str(int(s)) for s in ok["seed"]]
    paths = [plots.plot_accuracy_vs_flops(ok, out / "figures" / "accuracy_vs_flops.png", x="flops_m",
                                          y="test_acc", label="model")]
    search = epochs[epochs["stage"] == "search"].copy() if "stage" in epochs else pd.DataFrame()
    if not search.empty:
        search["label"] = "FairDARTS"
        paths.append(plots.plot_skip_counts(search[["seed", "epoch", "skip_normal", "skip_reduce", "label"]],
                                            out / "figures" / "skip_counts.png", max_count=8))
    return paths
