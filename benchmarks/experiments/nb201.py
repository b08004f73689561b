"""The NAS-Bench-201 table of every variant: each search variant that supports the NB201 space, over
seeds, its final cell looked up in the benchmark's results table (no training: the benchmark holds
the 200-epoch CIFAR-10 accuracy of every cell). Per method: CIFAR-10 valid and test accuracy, params,
the cell's percentile among all 15,625 cells, search seconds, and the published NB201 numbers beside
ours; the rows "random cell" (the expectation over the whole space) and "optimum" come from the table.
The protocol follows NB201's Table 5 (search on CIFAR-10, look up the cell) at a CPU size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..spec import Experiment, Parse, Setting
from .chance import kept_edges, param_free_share
from .stats import count, fmt_p, groups, mean_std, paired_p

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "nb201"
TITLE = "NAS-Bench-201: every variant's searched cell with the benchmark's ground truth"
NEEDS_NB201_TABLE = True  # the table's values are the study's result
SEEDS = {"paper": 3, "quick": 3, "smoke": 1}  # NB201's own protocol: 3 runs per method
SMOKE_VARIANTS = ("darts_v1", "fair_darts")
VALID, TEST = "nb201_cifar10_valid", "nb201_cifar10_test"
# The quick preset's search, fixed before the study ran (sized from the measured cost of one search, not
# from outcomes): the first 4,000 training images (2,000 train the weights, 2,000 the architecture), 15 epochs
# of batch 64 (465 steps), C=8 with 1 cell per stage; the arch lr is each variant's published one x30 (quick
# preset). One darts_v1 search of 10 epochs took 135 s on one core: 15 epochs ~200 s, second order ~4x;
# 7 variants x 3 seeds ~6,000 core-seconds, ~50 minutes on 2 cores (the first run, at f993684).
# The rerun with all 15 variants and DARTS-PT's selection, sized before it ran from 2-epoch searches at this size
# on one core (seconds an epoch, alone on the machine: gdas 3.3, fixed_alpha 6.5, first-order DARTS and its
# regularized forms (drnas, sdarts_rs, beta_darts) 10.5, darts_v2 and the R-DARTS variants (second order) 27,
# sdarts_adv 41) and one selection of a darts_v1 search (126 s at proj_intv 2: 9 tuning epochs and 6
# decisions): 15 epochs x 3 seeds ~13,800 core-seconds of search and 45 selections ~7,400 with two trials at a
# time, ~3 hours on 2 cores. Its questions, fixed with it: (1) which variants end above a random cell (the table's
# expectation, 87.06) and how far from the optimum, with the published numbers beside; two methods count as
# different only where their means differ by more than a t-test detects at n=3 with the rows' own spread;
# (2) per variant, perturbation against argmax on the same searches: paired over seeds, test accuracy and
# parameter-free edges (collapse); (3) fixed_alpha + selection against its published 93.80.
QUICK_SEARCH = {"space": "nb201", "epochs": 15, "train_limit": 4000, "batch_size": 64, "init_channels": 8,
                "layers": 1, "gap_images": 256}
# The paper preset: NB201's search protocol (the space's paper sizes: 50 epochs, C=16, N=5, batch 64,
# 25k + 25k images of the CIFAR-10 training set, the variant's published learning rates).
SEARCH = {"paper": {"space": "nb201"}, "quick": QUICK_SEARCH, "smoke": {"space": "nb201"}}
# Published NB201 CIFAR-10 results (valid / test %, mean +- std over 3 runs), each with its source.
NB201_PAPER = "NAS-Bench-201 paper (Dong & Yang, ICLR 2020), Table 5"
PUBLISHED = {
    "darts_v1": ("39.77 +- 0.00", "54.30 +- 0.00", NB201_PAPER),
    "darts_v2": ("39.77 +- 0.00", "54.30 +- 0.00", NB201_PAPER),
    "darts_minus": ("-", "93.80 +- 0.40", "DARTS- paper (Chu et al., ICLR 2021)"),
    "pc_darts": ("-", "93.41 +- 0.30", "PC-DARTS as rerun in DrNAS (Chen et al., ICLR 2021)"),
    "gdas": ("89.89 +- 0.08", "93.61 +- 0.09", NB201_PAPER),
    "drnas": ("91.55 +- 0.00", "94.36 +- 0.00", "DrNAS paper (Chen et al., ICLR 2021), NB201 table"),
    "beta_darts": ("91.55 +- 0.00", "94.36 +- 0.00", "beta-DARTS paper (Ye et al., CVPR 2022), NB201 table"),
}
# DARTS-PT's NB201 numbers (test accuracy, the perturbation selection on the search's supernet).
DARTS_PT_PAPER = "DARTS-PT paper (Wang et al., ICLR 2021), Table 4"
PT_PUBLISHED = {
    "darts_v1": ("-", "88.11 (DARTS+PT)", DARTS_PT_PAPER),
    "fixed_alpha": ("-", "93.80 (fixed alpha + PT)", DARTS_PT_PAPER),
}
OPTIMUM_PUBLISHED = ("91.61", "94.37", NB201_PAPER)
# The quick and paper presets parse every search twice, by argmax and by DARTS-PT's perturbation selection
# on its checkpoint (fixed_alpha: by the selection only, its weights are uniform); smoke: each variant's own.
PARSES = (Parse("argmax", "argmax"), Parse("perturbation", "perturbation"))
RANDOM_FREE_EDGES = kept_edges("nb201") * param_free_share("nb201")  # 6 x 3/5 = 3.6


def build(sizes: Sizes, seeds: tuple[int, ...], **_) -> Experiment:
    from fairdarts_core.spaces import get_space
    from variants import VARIANTS, make_variant

    space, preset = get_space("nb201"), sizes.name
    names = [n for n in VARIANTS if make_variant(n).supports(space) and (preset != "smoke" or n in SMOKE_VARIANTS)]
    settings = tuple(Setting(name, name, search=dict(SEARCH[preset]), train=False, parses=parses(name, preset))
                     for name in names)
    protocol = "NAS-Bench-201 space, every variant that supports it, each final cell (argmax per edge" + \
               ("; and DARTS-PT's perturbation selection on the search's checkpoint, official defaults, proj_intv "
                "scaled to the search's epochs" if preset != "smoke" else "") + ") looked up in the NB201 table " \
               "(no training)"
    if preset == "quick":
        c = QUICK_SEARCH
        protocol += (f"; searches: {c['epochs']} epochs, {c['train_limit']} training images "
                     f"({c['train_limit'] // 2} weights + {c['train_limit'] // 2} architecture), batch "
                     f"{c['batch_size']}, C={c['init_channels']}, {c['layers']} cell per stage; each variant's "
                     f"published learning rates (arch lr x30)")
    return Experiment(NAME, TITLE, settings, seeds, sizes, protocol=protocol)


def parses(name: str, preset: str) -> tuple[Parse, ...]:
    """The parse settings of one variant's searches (none: its own parse)."""
    if preset == "smoke":
        return ()
    return PARSES[1:] if name == "fixed_alpha" else PARSES


def published(row: str) -> tuple[str, str, str]:
    """(valid, test, source) published for a table row ("variant" or "variant | parse")."""
    label, _, parse = row.partition(" | ")
    table = PT_PUBLISHED if parse == "perturbation" or (label == "fixed_alpha" and not parse) else PUBLISHED
    return table.get(label, ("-", "-", "none published"))


def ground_truth_row(ok: pd.DataFrame) -> dict[str, str]:
    """The looked-up columns of one method's finished seeds, as table cells."""
    return {
        "Valid % (ours)": mean_std(ok.get(VALID, pd.Series(dtype=float))),
        "Test % (ours)": mean_std(ok.get(TEST, pd.Series(dtype=float))),
        "Params (M)": mean_std(ok.get("nb201_params_m", ok.get("params_m", pd.Series(dtype=float))), 3),
        "Percentile": mean_std(ok.get("nb201_percentile", pd.Series(dtype=float)), 1),
        f"Param-free edges (random cell: {RANDOM_FREE_EDGES:.1f})": mean_std(param_free_edges(ok), 1),
    }


def param_free_edges(ok: pd.DataFrame) -> pd.Series:
    """How many of each finished row's 6 NB201 edges hold an op without parameters (none, skip, pooling)."""
    from fairdarts_core import Genotype
    from fairdarts_core.indicators import param_free_fraction

    genotypes = ok.get("genotype", pd.Series(dtype=str)).dropna()
    return pd.Series([6 * param_free_fraction(Genotype.from_json(g)) for g in genotypes], dtype=float)


def reference_rows(benchmark: dict | None, columns: list[str]) -> list[dict[str, str]]:
    """'random cell' (mean +- std over all cells) and 'optimum' (the best of each column), from the table;
    their names go in the first of `columns`."""
    if not benchmark:
        return []
    stats = benchmark["columns"]
    valid, test = stats.get("cifar10_valid"), stats.get("cifar10_test")
    cells = benchmark.get("cells", "all")

    def cell(s, key):
        return "-" if s is None else (f"{s['mean']:.2f} +- {s['std']:.2f}" if key == "mean" else f"{s['max']:.2f}")

    first = columns[0]
    random_row = {first: f"random cell (expectation over the {cells} cells)", "Valid % (ours)": cell(valid, "mean"),
                  "Test % (ours)": cell(test, "mean"), "Percentile": "-"}
    optimum = {first: "optimum (best cell of each column)", "Valid % (ours)": cell(valid, "max"),
               "Test % (ours)": cell(test, "max"), "Percentile": "100.0",
               "Published valid": OPTIMUM_PUBLISHED[0], "Published test": OPTIMUM_PUBLISHED[1],
               "Source": OPTIMUM_PUBLISHED[2]}
    return [{c: row.get(c, "-") for c in columns} for row in (random_row, optimum)]


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    rows = []
    for row, group, ok in groups(trials):
        published_row = published(row)
        rows.append({"Method": row, **ground_truth_row(ok),
                     "Search s": mean_std(ok.get("search_seconds", pd.Series(dtype=float)), 0),
                     "Selection s": mean_std(ok.get("selection_seconds", pd.Series(dtype=float)), 0),
                     "Published valid": published_row[0], "Published test": published_row[1],
                     "Source": published_row[2],
                     "n": count(group, ok)})
    frame = pd.DataFrame(rows)
    extra = reference_rows(benchmark, list(frame.columns)) if len(frame) else []
    return pd.concat([frame, pd.DataFrame(extra)], ignore_index=True) if extra else frame


TABLE_NOTES = ("Valid / Test: the NAS-Bench-201 table's CIFAR-10 accuracy of each seed's final cell (valid: "
               "trained on 25k training images, evaluated on the other 25k; test: trained on all 50k, evaluated on "
               "the 10k test images; 200 epochs, mean over the benchmark's seeds), mean +- std over our search seeds. "
               "Percentile: the share of the 15,625 cells whose test accuracy is at most the cell's. Param-free "
               "edges: of the cell's 6, those holding none, skip_connect or avg_pool_3x3 (a uniformly random cell "
               "has 3.6 on average). Published: the method's NB201 CIFAR-10 numbers in the source named, searched "
               "at full scale; ours are CPU-scale searches (see the protocol).")


SELECTION_FILE = "selection"  # selection.csv / selection.md: perturbation against argmax, paired over seeds
SELECTION_NOTES = ("Paired over seeds: both parses of the same search, the seeds where both rows are ok. Difference: "
                   "perturbation minus argmax, mean +- std over the pairs; p: two-sided paired t-test (needs 2+ pairs "
                   "with differing differences). Param-free edges: of the cell's 6 (none, skip, pooling; a random "
                   "cell has 3.6). Seconds: the search's and the selection's, mean over the pairs.")


def selection_pairs(trials: pd.DataFrame) -> pd.DataFrame:
    """Per variant searched with both parses: DARTS-PT's selection against argmax on the same searches, paired
    by seed (the study's question 2): test accuracy, its difference and paired p, parameter-free edges, seconds."""
    rows = []
    ok = trials[trials["status"] == "ok"] if "status" in trials else trials
    for label in dict.fromkeys(trials.get("label", pd.Series(dtype=str))):
        mine = ok[ok["label"] == label]
        argmax, pt = (mine[mine["parse"].fillna("") == name].set_index("seed") for name in ("argmax", "perturbation"))
        seeds = sorted(set(argmax.index) & set(pt.index))
        if not seeds:
            continue
        a, b = argmax.loc[seeds], pt.loc[seeds]
        a_test, b_test = (pd.to_numeric(f.get(TEST, pd.Series(index=seeds, dtype=float)), errors="coerce")
                          for f in (a, b))
        rows.append({"Variant": label, "Argmax test %": mean_std(a_test), "Perturbation test %": mean_std(b_test),
                     "Difference": mean_std(b_test - a_test), "Paired p": fmt_p(paired_p(b_test, a_test)),
                     "Param-free edges argmax": mean_std(param_free_edges(a.reset_index()), 1),
                     "Param-free edges perturbation": mean_std(param_free_edges(b.reset_index()), 1),
                     "Search s": mean_std(a.get("search_seconds", pd.Series(dtype=float)), 0),
                     "Selection s": mean_std(b.get("selection_seconds", pd.Series(dtype=float)), 0),
                     "Pairs": len(seeds), "Seeds": " ".join(str(int(s)) for s in seeds)})
    return pd.DataFrame(rows)


def write_files(out: Path, trials: pd.DataFrame) -> list[Path]:
    """The report's extra files: selection.csv and selection.md, the paired comparison of the two parses (none
    when no variant has both, e.g. the smoke preset)."""
    from ..report import markdown

    pairs = selection_pairs(trials)
    if pairs.empty:
        return []
    csv, md = out / f"{SELECTION_FILE}.csv", out / f"{SELECTION_FILE}.md"
    pairs.to_csv(csv, index=False)
    md.write_text(f"**DARTS-PT's perturbation selection against argmax on the same searches**\n\n{markdown(pairs)}\n"
                  f"\n{SELECTION_NOTES}\n", encoding="utf-8")
    return [csv, md]


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    return ground_truth_figures(out, trials, epochs, benchmark)


def reference_lines(benchmark: dict | None) -> dict[str, float]:
    """The optimum's and a random cell's test accuracy, for the ground-truth figures ({} without a table)."""
    if not benchmark or "cifar10_test" not in benchmark["columns"]:
        return {}
    stats = benchmark["columns"]["cifar10_test"]
    return {"optimum": stats["max"], "random cell (mean)": stats["mean"]}


def plot_ground_truth(search: pd.DataFrame, path: Path, benchmark: dict | None) -> Path:
    """The benchmark's test accuracy of the cell parsed at each epoch: each seed and the mean per label."""
    from .. import plots

    return plots.plot_seed_curves(search.dropna(subset=[TEST]), TEST, path, "NB201 CIFAR-10 test accuracy (%)",
                                  reference_lines(benchmark),
                                  title="benchmark accuracy of the cell parsed at each epoch")


def ground_truth_figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None
                         ) -> list[Path]:
    """Ground-truth test accuracy per epoch (each seed and the mean, per row; rows parsed only by the selection
    after the search left out) against the optimum and a random cell's expectation; the ops of the final cells."""
    from fairdarts_core import Genotype

    from .. import plots

    paths = []
    search = epochs[epochs["stage"] == "search"] if "stage" in epochs else pd.DataFrame()
    if not search.empty and "parse" in trials and "label" in search:
        # A row parsed only by the selection after its search (fixed_alpha) has no cell of its own per epoch: its
        # per-epoch parse reads frozen uniform weights (every edge `none`), so it is left out of the curves.
        parses = trials.assign(parse=trials["parse"].fillna("").astype(str)).groupby("label")["parse"]
        selection_only = {label for label, p in parses if set(p) == {"perturbation"}}
        search = search[~search["label"].isin(selection_only)]
    if not search.empty and TEST in search and search[TEST].notna().any():
        paths.append(plot_ground_truth(search, out / "figures" / "ground_truth_test.png", benchmark))
    ok = trials[(trials["status"] == "ok") & trials["genotype"].astype(str).str.contains('"nb201"')] \
        if "genotype" in trials else pd.DataFrame()
    if not ok.empty:
        counts: dict[str, dict[str, int]] = {}
        for _, row in ok.iterrows():
            ops = counts.setdefault(row["row"], {})
            for op, _, _ in Genotype.from_json(row["genotype"]).cell("cell")[0]:
                ops[op] = ops.get(op, 0) + 1
        frame = pd.DataFrame(counts).T.fillna(0)
        order = [op for op in ("none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3") if op in frame]
        paths.append(plots.plot_op_counts(frame[order], out / "figures" / "final_ops.png",
                                          "ops of the final cells"))
    return paths
