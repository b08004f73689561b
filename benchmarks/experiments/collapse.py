"""Skip-connection collapse: every searching variant in the spaces built to show it (NAS-Bench-201 and
the R-DARTS reduced spaces S2, S3), over seeds, with a search long enough for the weights to settle.
Per variant and space: the fraction of parameter-free ops (none, skip, pools, noise) in the parsed
cells per epoch and at the end, how many seeds end skip-dominated (at least 2/3 of the kept edges
parameter-free, i.e. 4 of NB201's 6), the dominant Hessian eigenvalue, and the accuracy of the final
cells after a short training."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..spec import Experiment, Setting
from .chance import DOMINATED, chance_dominated, expected_skips, kept_edges, param_free_share
from .nb201 import TEST, plot_ground_truth
from .stats import bar_summary, count, groups, mean_std, random_seeds

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "collapse"
TITLE = "Skip-connection collapse across variants and spaces"
SEEDS = {"paper": 3, "quick": 2, "smoke": 1}  # quick: 2 seeds took 7,474 s on 2 cores; 3 would take ~3 h
NEEDS_NB201_TABLE = False  # its NB201 cells are looked up when a table is given, but its table does not need them
SPACES = {"paper": ("nb201", "s2", "s3"), "quick": ("nb201", "s2", "s3"), "smoke": ("s3",)}
SMOKE_VARIANTS = ("darts_v1", "fair_darts")
# The random baseline: random_darts, which outside the DARTS space has no constraint and draws the same uniform
# cells as random_uniform and random_flops_matched (no FLOPs target there), so one of them is trained.
RANDOM = ("random_darts",)
# The search of the quick preset per space, fixed before the study ran, sized to fit ~2 hours on 2 cores
# (costs measured on these sizes, not outcomes): more epochs and images than the generic quick preset,
# so that the architecture weights have time to move; the hessian every 5 epochs.
QUICK_SEARCH = {
    "nb201": {"epochs": 30, "train_limit": 2000, "batch_size": 64, "init_channels": 8, "layers": 1,
              "hessian_every": 10, "gap_images": 256},
    "s2": {"epochs": 20, "train_limit": 1000, "batch_size": 50, "init_channels": 8, "layers": 5,
           "hessian_every": 10, "gap_images": 256},
    "s3": {"epochs": 20, "train_limit": 1000, "batch_size": 50, "init_channels": 8, "layers": 5,
           "hessian_every": 10, "gap_images": 256},
}


def build(sizes: Sizes, seeds: tuple[int, ...], **_) -> Experiment:
    from fairdarts_core.spaces import get_space
    from variants import VARIANTS, make_variant

    preset = sizes.name
    settings = []
    for space in SPACES[preset]:
        names = [n for n in VARIANTS if n != "darts" and (preset != "smoke" or n in SMOKE_VARIANTS)]
        search = {"space": space, **(QUICK_SEARCH[space] if preset == "quick" else {})}
        settings += [Setting(f"{name} @ {space}", name, search=search) for name in names
                     if make_variant(name).supports(get_space(space))]
        if preset != "smoke":
            settings += [Setting(f"{name} @ {space}", name, {"count": 1}, search={"space": space},
                                 seeds=random_seeds(preset, seeds)) for name in RANDOM]
    protocol = "spaces " + ", ".join(SPACES[preset])
    if preset == "quick":
        protocol += "; searches: " + "; ".join(
            f"{s}: {c['epochs']} epochs, {c['train_limit']} digits ({c['train_limit'] // 2} + {c['train_limit'] // 2}), "
            f"batch {c['batch_size']}, C={c['init_channels']}, {c['layers']} cell(s)" +
            (" per stage" if s == "nb201" else "") for s, c in QUICK_SEARCH.items())
        protocol += "; each variant's published learning rates (arch lr x30); the final cells trained with the quick preset"
    return Experiment(NAME, TITLE, tuple(settings), seeds, sizes, protocol=protocol)


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    with_truth = TEST in trials and trials[TEST].notna().any()  # NB201 cells looked up (report --nb201-table)
    rows = []
    for row, group, ok in groups(trials):
        variant, _, space = row.partition(" @ ")
        free_final = _final_free(ok)
        truth = ok.get(TEST, pd.Series(dtype=float)).dropna()
        rows.append({
            "Variant": variant,
            "Space": space,
            "Param-free fraction": f"{mean_std(free_final, 2)} (random cell: {param_free_share(space):.2f})",
            "Skip-dominated seeds": f"{int((free_final >= DOMINATED - 1e-9).sum())} of {len(free_final)} "
                                    f"(random cell: {chance_dominated(space):.1%})" if len(free_final) else "-",
            **({"NB201 test %": mean_std(truth) if len(truth) else "-"} if with_truth else {}),
            "Skips (cell 1)": f"{mean_std(ok['skips_normal'], 1)} (random cell: {expected_skips(space):.1f})",
            "Disc. gap (pts)": mean_std(ok.get("search_disc_gap", pd.Series(dtype=float)), 1),
            "Hessian eig": mean_std(ok.get("search_hessian_eig", pd.Series(dtype=float)), 2),
            "Accuracy %": mean_std(ok["test_acc"]),
            "n": count(group, ok),
        })
    return pd.DataFrame(rows)


def _final_free(ok: pd.DataFrame) -> pd.Series:
    """The parameter-free fraction of each finished row's genotype (sampled ones included)."""
    from fairdarts_core import Genotype
    from fairdarts_core.indicators import param_free_fraction

    values = [param_free_fraction(Genotype.from_json(g)) for g in ok.get("genotype", pd.Series(dtype=str)).dropna()]
    return pd.Series(values, dtype=float)


TABLE_NOTES = ("Param-free fraction: the share of the parsed cells' edges (all cell kinds) whose op has no "
               "parameters (none, skip_connect, pools, noise), mean over seeds; a seed is skip-dominated when it is "
               "at least 2/3 (NB201: 4 of 6 edges); beside the count, the share of uniformly random cells of the "
               "space that are (each kept edge's op drawn uniformly from those the parse can keep: NB201 54.4%, the "
               "share of its 15,625 cells; S2, S3 10.5%: 11 or more of 16 kept edges skip). \"random cell\" beside "
               "the fraction and the skips: a uniformly random cell's expectation (NB201 0.60 and 1.2 skips of 6 "
               "edges; S2, S3 0.50 and 4.0 of 8). NB201 test %: the NAS-Bench-201 table's CIFAR-10 test accuracy of the "
               "final cells (shown once the folder's NB201 cells are looked up). Hessian eig: the dominant "
               "eigenvalue of the validation loss's "
               "Hessian w.r.t. the architecture parameters at the last epoch where it was computed.")


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    from .. import plots

    paths = []
    search = epochs[epochs["stage"] == "search"] if "stage" in epochs else pd.DataFrame()
    if not search.empty:
        for space in dict.fromkeys(label.partition(" @ ")[2] for label in search["label"]):
            part = search[search["label"].str.endswith(f" @ {space}")].copy()
            part["label"] = part["label"].str.partition(" @ ")[0]
            chance = {"uniformly random cell (expectation)": param_free_share(space),
                      "skip-dominated from here (2/3)": DOMINATED}
            paths.append(plots.plot_epoch_bands(part, ("param_free_fraction",),
                                                out / "figures" / f"param_free_{space}.png",
                                                f"parameter-free share of the parsed cells ({space})", limits=(0, 1),
                                                lines=chance))
            paths.append(plots.plot_skip_counts(part, out / "figures" / f"skip_counts_{space}.png",
                                                one_cell=space == "nb201", max_count=kept_edges(space),
                                                lines={"uniformly random cell (expectation)": expected_skips(space)}))
            if "hessian_eig" in part and part["hessian_eig"].notna().any():
                paths.append(plots.plot_epoch_bands(part.dropna(subset=["hessian_eig"]), ("hessian_eig",),
                                                    out / "figures" / f"hessian_{space}.png",
                                                    f"dominant Hessian eigenvalue ({space})",
                                                    title="computed every few epochs; each point is one computation"))
            if space == "nb201" and TEST in part and part[TEST].notna().any():
                paths.append(plot_ground_truth(part, out / "figures" / "ground_truth_nb201.png", benchmark))
    summary = bar_summary(trials, "test_acc")
    paths.append(plots.plot_bar_with_error(summary, out / "figures" / "accuracy.png", x="row", y="mean",
                                           yerr="std", n="n", failed="failed", ylabel="test accuracy (%)",
                                           limits=(0, 100),
                                           title="Accuracy of the final cells after training (mean +- sd over seeds)"))
    return paths
