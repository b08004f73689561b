"""Every registered method under one protocol: each searching variant and each sampler, over seeds:
search -> parse (the variant's own rule) -> profile -> train. Accuracy against DARTS (Welch's t-test),
skips per variant, the discretization gap and the search time.

The quick preset on CIFAR-10 (`--dataset folder --data-dir <the JPEG copy>`), protocol and analysis fixed before
it runs: the quick preset's image-set sizes (fairdarts_core/sizes.py): each search on the first 2,560 training
images (1,280 + 1,280), each final cell trained 10 epochs at lr 0.05 on the first 10,000 and scored on all 10,000
test images (the protocol results/noise_cifar10 chose, training-seed std 0.60); seeds 0-2 for the 16 searching
variants, 0-5 for the three random baselines. Sized from measured costs (a first-order DARTS search epoch 84 s on
one core, second order ~2.5x, SDARTS-ADV ~4x; a training 512-1,139 s in results/comparison; fixed_alpha's
perturbation selection, ~270 candidates on 1,280 images, estimated at ~25 minutes): ~72,000 core-seconds, about
10 hours on the 2 cores, run across sessions with --resume. It cannot meet the 2-hour
budget the other DARTS-space studies keep: 2 hours hold one seed of about 7 methods, which answers nothing
about 19. The analysis: each method against random_uniform by the 95% Welch interval of the difference (above 0:
better than a random cell), against darts_v1 by Welch's p; among methods only differences above the smallest a
t-test detects at n=3 (1.85 points at std 0.60) count, the caption's noise floor; skips against a random cell's
expectation. On the digits (the default dataset) the preset trains 10 epochs as TRAIN_NOTE says."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from fairdarts_core.data import DIGITS

from ..spec import Experiment, Setting
from .chance import expected_skips
from .stats import (
    RANDOM_BASELINES,
    bar_summary,
    count,
    fmt_p,
    groups,
    improvement,
    mean_std,
    random_baseline,
    random_seeds,
    welch_p,
)

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "variants"
TITLE = "Search variants under one protocol"
SEEDS = {"paper": 3, "quick": 3, "smoke": 1}
NEEDS_NB201_TABLE = False
BASELINE = "darts_v1"  # the original first-order DARTS
# The smoke preset (tests) runs the baseline, a sigmoid variant and a sampler: every kind of row (the registry
# tests search every variant at that size already; random_uniform, as the samplers constrained by FLOPs profile
# a paper-scale network per draw, about a minute per cell).
SMOKE_METHODS = ("darts_v1", "fair_darts", "random_uniform")
# Training of the quick preset, longer than the generic quick training so that the training seed moves
# one genotype's accuracy by at most ~1 point (measured: see TRAIN_NOTE).
QUICK_TRAIN = {"epochs": 10, "learning_rate": 0.05}
TRAIN_NOTE = ("one genotype's accuracy over training seeds 0-2 with this training, measured with `darts-bench train "
              "--genotype G --preset quick --epochs 10 --learning-rate 0.05 --seed S`: FairDARTS_a 96.17 +- 0.15, "
              "DARTS_V2 96.43 +- 0.55")


def build(sizes: Sizes, seeds: tuple[int, ...], dataset: str = DIGITS, **_) -> Experiment:
    from variants import METHODS

    names = [n for n in METHODS if sizes.name != "smoke" or n in SMOKE_METHODS]
    settings = tuple(Setting(name, name, seeds=random_seeds(sizes.name, seeds) if name in RANDOM_BASELINES else ())
                     for name in names)
    return Experiment(NAME, TITLE, settings, seeds, sizes,
                      train_overrides=dict(QUICK_TRAIN) if sizes.name == "quick" else {},
                      protocol="every method in the DARTS space with the same search preset (its own published "
                               "learning rates and settings), parsed by its own rule, trained with the same "
                               "protocol and seeds" + (f" ({TRAIN_NOTE})" if dataset == DIGITS else ""))


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    from variants import METHODS

    baseline = trials[(trials["row"] == BASELINE) & (trials["status"] == "ok")]["test_acc"]
    random = random_baseline(trials)
    random_acc = trials[(trials["row"] == random) & (trials["status"] == "ok")]["test_acc"]
    chance = expected_skips("darts")
    rows = []
    for row, group, ok in groups(trials):
        cls = METHODS[row] if row in METHODS else None
        rows.append({
            "Variant": row,
            "What": cls.summary if cls else "",
            "Accuracy %": mean_std(ok["test_acc"]),
            f"p vs {BASELINE}": "-" if row == BASELINE else fmt_p(welch_p(ok["test_acc"], baseline)),
            **({f"vs {random} (95% CI)": "-" if row == random else improvement(ok["test_acc"], random_acc)}
               if random else {}),
            "FLOPs (M)": mean_std(ok["flops_m"], 0),
            "Params (M)": mean_std(ok["params_m"], 2),
            f"Skips normal (random cell: {chance:.2f})": mean_std(ok["skips_normal"], 1),
            f"Skips reduce (random cell: {chance:.2f})": mean_std(ok["skips_reduce"], 1),
            "Disc. gap (pts)": mean_std(ok.get("search_disc_gap", pd.Series(dtype=float)), 1),
            "Search s": mean_std(ok.get("search_seconds", pd.Series(dtype=float)), 0),
            "n": count(group, ok),
        })
    return pd.DataFrame(rows)


TABLE_NOTES = (f"p vs {BASELINE}: Welch's t-test of the accuracies over seeds against the original first-order "
               "DARTS. vs random (shown when a random baseline ran; random_uniform first, else random_flops_matched, "
               "else random_darts): the row's mean accuracy minus the random baseline's, with its 95% Welch "
               "interval. random_uniform: each cell drawn uniformly from the space (Yang et al., ICLR 2020); "
               "random_flops_matched: uniform cells within a FLOPs window; random_darts: the published random "
               "DARTS baseline, exactly 2 normal-cell skips and at least 500M FLOPs (larger than most searched "
               "cells). Skips: random cell = a uniformly random DARTS cell's expectation (8 edges x 1/7). Search "
               "s: wall seconds of one search, one CPU per trial, trials two at a time.")


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    from .. import plots

    ok = trials[trials["status"] == "ok"]
    summary = ok.groupby("row", sort=False).agg(flops_m=("flops_m", "mean"), test_acc=("test_acc", "mean"),
                                                test_acc_std=("test_acc", "std")).reset_index()
    paths = [plots.plot_accuracy_vs_flops(summary, out / "figures" / "accuracy_vs_flops.png", x="flops_m",
                                          y="test_acc", label="row"),
             plots.plot_bar_with_error(bar_summary(trials, "skips_normal"), out / "figures" / "skips.png", x="row",
                                       y="mean", yerr="std", n="n", failed="failed", ylabel="skip connections",
                                       limits=(0, 8),
                                       title="Skip connections in the normal cell (mean +- sd over seeds)")]
    search = epochs[epochs["stage"] == "search"] if "stage" in epochs else pd.DataFrame()
    if not search.empty:
        paths.append(plots.plot_skip_counts(search, out / "figures" / "skip_counts.png", max_count=8,
                                            lines={"uniformly random cell (expectation)": expected_skips("darts")}))
    return paths
