"""Ablation of the zero-one loss: its weight, its L1/L2 form, sigmoid vs softmax with and without it,
and the parse method x threshold. Parse settings are a post-hoc axis: the default setting is searched
once per seed and parsed four ways. Mean +- std over seeds; each row's accuracy against the default
row's: a paired t-test over seeds for the other parses of the same searches, Welch's t-test for the
other settings (independent searches)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from fairdarts_core.spaces.darts.parse import DEFAULT_THRESHOLD

from ..spec import Experiment, Parse, Setting, row_name
from .chance import expected_skips
from .stats import bar_summary, count, fmt_p, groups, mean_std, paired_p, welch_p

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "ablation"
TITLE = "Zero-one loss ablation"
DEFAULT_LABEL = "sigmoid, L2, w=10"
DEFAULT_PARSE = Parse(f"sparse {DEFAULT_THRESHOLD:g}", "threshold_sparse", DEFAULT_THRESHOLD)
# The parse axis of the default setting: FairDARTS' thresholds, the DARTS rule, and DARTS-PT's perturbation
# selection on the same search's checkpoint (quick and paper; at the smoke size it costs ~15x the search).
PARSES = (DEFAULT_PARSE, Parse("sparse 0.6", "threshold_sparse", 0.6),
          Parse(f"edge {DEFAULT_THRESHOLD:g}", "threshold_edge", DEFAULT_THRESHOLD), Parse("darts", "darts"),
          Parse("perturbation", "perturbation"))
DEFAULT = row_name(DEFAULT_LABEL, DEFAULT_PARSE.label)
SEEDS = {"paper": 3, "quick": 2, "smoke": 2}
NEEDS_NB201_TABLE = False
WEIGHTS = {"paper": (0, 1, 5, 10, 15, 20), "quick": (0, 1, 5, 10, 15, 20), "smoke": (10,)}
# Softmax weights over 7 ops rarely reach the default threshold (0.85): the softmax settings parse with the DARTS rule.
SOFTMAX_PARSE = (Parse("darts", "darts"),)


def settings(preset: str, weights: tuple[float, ...] | None = None) -> tuple[Setting, ...]:
    """The study's settings at a preset (by name); `weights`: the zero-one weights to try instead of its own."""
    out = [Setting(DEFAULT_LABEL, "fair_darts", parses=PARSES if preset != "smoke" else PARSES[0:4:3])]
    for w in weights or WEIGHTS[preset]:
        if w != 10:
            out.append(Setting(f"sigmoid, L2, w={w:g}", "fair_darts", {"zero_one_weight": float(w)},
                               parses=(DEFAULT_PARSE,)))
    out.append(Setting("sigmoid, L1, w=10", "fair_darts", {"zero_one_form": "l1"}, parses=(DEFAULT_PARSE,)))
    out.append(Setting("softmax, L2, w=10", "fair_darts", {"use_softmax": True}, parses=SOFTMAX_PARSE))
    if preset != "smoke":
        out.append(Setting("softmax, no L01", "fair_darts", {"use_softmax": True, "zero_one_weight": 0.0},
                           parses=SOFTMAX_PARSE))
    return tuple(out)


def build(sizes: Sizes, seeds: tuple[int, ...], **_) -> Experiment:
    return Experiment(NAME, TITLE, settings(sizes.name), seeds, sizes,
                      protocol="FairDARTS searches; one search per (setting, seed), each parse setting applied to "
                               "its final weights; distinct genotypes trained once per seed")


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    default = trials[(trials["row"] == DEFAULT) & (trials["status"] == "ok")].set_index("seed")["test_acc"]
    rows = []
    for row, group, ok in groups(trials):
        same_search = (group["label"] == DEFAULT_LABEL).all()
        if row == DEFAULT:
            test, p = "-", "-"
        elif same_search:
            test, p = "paired", fmt_p(paired_p(ok.set_index("seed")["test_acc"], default))
        else:
            test, p = "Welch", fmt_p(welch_p(ok["test_acc"], default))
        shared = ok[ok["trained_as"] != ""]
        rows.append({
            "Setting": row,
            "Accuracy %": mean_std(ok["test_acc"]),
            "p vs default": p,
            "test": test,
            "Disc. gap (pts)": mean_std(ok.get("search_disc_gap", pd.Series(dtype=float)), 1),
            "Near 0/1": mean_std(ok.get("search_near_01", pd.Series(dtype=float)), 2),
            f"Skips (normal; random cell: {expected_skips('darts'):.2f})": mean_std(ok["skips_normal"], 1),
            "FLOPs (M)": mean_std(ok["flops_m"], 0),
            "Params (M)": mean_std(ok["params_m"], 2),
            "Same genotype as": "-" if shared.empty else
            f"{shared['trained_as'].iloc[0]} ({len(shared)} of {len(ok)} seeds)",
            "n": count(group, ok),
        })
    return pd.DataFrame(rows)


TABLE_NOTES = (f"p vs default: the row's accuracy against the default row's ({DEFAULT}). "
               "Parses of the default searches are compared with a paired t-test over seeds (the same searches); "
               "the other settings, searched on their own, with Welch's t-test. \"Same genotype as\": the parse "
               "gave the genotype of an earlier parse of the same search, which was trained once and counts for "
               "both rows.")


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    from .. import plots

    return [
        plots.plot_bar_with_error(bar_summary(trials, "test_acc"), out / "figures" / "accuracy.png", x="row", y="mean",
                                  yerr="std", n="n", failed="failed", ylabel="test accuracy (%)", limits=(0, 100),
                                  title="Accuracy after training (mean +- sd over seeds)"),
        plots.plot_bar_with_error(bar_summary(trials, "search_disc_gap"), out / "figures" / "disc_gap.png", x="row",
                                  y="mean", yerr="std", n="n", failed="failed", ylabel="points",
                                  title="Discretization gap at the end of search (mean +- sd over seeds)"),
    ]
