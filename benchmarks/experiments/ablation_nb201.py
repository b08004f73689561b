"""The zero-one loss on NAS-Bench-201: FairDARTS with its weight w in {0, 1, 5, 10, 20}, its L1 form and
softmax weights at w=10, over seeds, each final cell (argmax per edge: always a cell) looked up in the
NB201 table. Ground truth instead of a short training: the accuracies carry no training noise, only the
search's seed-to-seed spread. Searches as the nb201 study's (same data, sizes, epochs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..spec import Experiment, Setting
from .nb201 import SEARCH, TEST, ground_truth_figures, ground_truth_row, reference_rows
from .stats import count, fmt_p, groups, mean_std, welch_p

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "ablation_nb201"
TITLE = "Zero-one loss ablation on NAS-Bench-201 (ground truth)"
NEEDS_NB201_TABLE = True
SEEDS = {"paper": 3, "quick": 3, "smoke": 1}
DEFAULT_LABEL = "sigmoid, L2, w=10"  # FairDARTS as published
WEIGHTS = {"paper": (0, 1, 5, 10, 20), "quick": (0, 1, 5, 10, 20), "smoke": (10,)}


def settings(preset: str) -> tuple[Setting, ...]:
    search = dict(SEARCH[preset])
    out = [Setting(f"sigmoid, L2, w={w:g}", "fair_darts", {"zero_one_weight": float(w)} if w != 10 else {},
                   search=search, train=False) for w in WEIGHTS[preset]]
    out.append(Setting("sigmoid, L1, w=10", "fair_darts", {"zero_one_form": "l1"}, search=search, train=False))
    if preset != "smoke":
        out.append(Setting("softmax, L2, w=10", "fair_darts", {"use_softmax": True}, search=search, train=False))
    return tuple(out)


def build(sizes: Sizes, seeds: tuple[int, ...], **_) -> Experiment:
    return Experiment(NAME, TITLE, settings(sizes.name), seeds, sizes,
                      protocol="FairDARTS on the NAS-Bench-201 space, the nb201 study's search protocol; each final "
                               "cell (argmax per edge) looked up in the NB201 table (no training)")


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    ok_rows = trials[trials["status"] == "ok"] if "status" in trials else trials
    default = ok_rows[ok_rows["row"] == DEFAULT_LABEL].get(TEST, pd.Series(dtype=float))
    rows = []
    for row, group, ok in groups(trials):
        p = "-" if row == DEFAULT_LABEL else fmt_p(welch_p(ok.get(TEST, pd.Series(dtype=float)), default))
        rows.append({"Setting": row, **ground_truth_row(ok), "p vs w=10 (test)": p,
                     "Near 0/1": mean_std(ok.get("search_near_01", pd.Series(dtype=float)), 2),
                     "n": count(group, ok)})
    frame = pd.DataFrame(rows)
    extra = reference_rows(benchmark, list(frame.columns)) if len(frame) else []
    return pd.concat([frame, pd.DataFrame(extra)], ignore_index=True) if extra else frame


TABLE_NOTES = ("Valid / Test: the NAS-Bench-201 table's CIFAR-10 accuracy of each seed's final cell, mean +- std "
               "over search seeds (no training noise: the spread is the search's). p vs w=10: Welch's t-test of the "
               "test accuracies against FairDARTS as published (sigmoid, L2, w=10). Near 0/1: the share of the "
               "final sigmoid (softmax) weights within 0.1 of 0 or 1. Percentile and Param-free edges as in the "
               "nb201 study.")


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    return ground_truth_figures(out, trials, epochs, benchmark)
