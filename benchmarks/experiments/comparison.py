"""Comparison: published genotypes (and optionally a stability run's) trained under one protocol with
the same seeds, beside the space's random baseline (cells drawn uniformly, 6+ samples). Table in the published
format: Model | FLOPs | Params | Batch size | lr | DP | Optimizer | Accuracy, and each row's gain over random.

The quick preset's run on CIFAR-10 (`--dataset folder --data-dir <the JPEG copy>`), its protocol and analysis
fixed before it ran: the quick preset's image-set training (10 epochs, lr 0.05, the first 10,000 training
images, C=8, 5 cells; fairdarts_core/sizes.py), seeds 0-2 for the five published cells and 0-5 for
random_uniform (21 trainings, ~80 minutes on 2 cores at ~440 s a training two at a time). The question: does a
published cell beat a uniformly random one at this size? Each cell against random_uniform by the 95% Welch
interval of the difference (an interval above 0: better than random). Among the published cells, a difference
counts only above the smallest difference a t-test detects at n=3 with the calibrated std (0.60 points: 1.85);
the calibration itself found DARTS_V2 and FairDARTS_a 0.57 apart, so no ranking of them is expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..spec import Experiment, Setting
from .stats import RANDOM_SAMPLES, count, groups, improvement, mean_std, random_baseline, random_seeds

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "comparison"
TITLE = "Genotypes trained under one protocol"
MODELS = ("FairDARTS_a", "FairDARTS_b", "DARTS_V2", "PC_DARTS_cifar", "PDARTS")
SEEDS = {"paper": 3, "quick": 3, "smoke": 2}
NEEDS_NB201_TABLE = False
RANDOM = "random_uniform"  # the random baseline: the space sampled uniformly (Yang et al., ICLR 2020)


def stability_settings(stability_dir: str | Path) -> list[Setting]:
    """The genotypes of a finished stability run (its genotypes.jsonl), one setting each."""
    path = Path(stability_dir) / "genotypes.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --stability-dir must be a finished stability results folder")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("status", "ok") == "ok" and entry.get("genotype"):
            out.append(Setting(f"stability_seed{entry['seed']}", genotype=json.dumps(entry["genotype"])))
    return out


def build(sizes: Sizes, seeds: tuple[int, ...], stability_dir: str | None = None, **_) -> Experiment:
    models = MODELS if sizes.name != "smoke" else MODELS[:2]
    settings = [Setting(m, genotype=m) for m in models]
    if stability_dir:
        settings += stability_settings(stability_dir)
    settings.append(Setting(RANDOM, RANDOM, seeds=random_seeds(sizes.name, seeds)))
    return Experiment(NAME, TITLE, tuple(settings), seeds, sizes,
                      protocol="every genotype trained with the same seeds, batch, schedule, drop path and cutout; "
                               f"the random baseline ({RANDOM}, cells drawn uniformly from the DARTS space, one per "
                               f"seed) trained the same way, {RANDOM_SAMPLES[sizes.name]}+ samples")


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    random = random_baseline(trials)  # a sampler setting (e.g. random_uniform) trained beside the genotypes
    random_acc = trials[(trials["row"] == random) & (trials["status"] == "ok")]["test_acc"]
    rows = []
    for row, group, ok in groups(trials):
        first = ok.iloc[0] if len(ok) else group.iloc[0]
        rows.append({
            "Model": row,
            "FLOPs": _size(ok, first, "flops_m", 0),
            "Params": _size(ok, first, "params_m", 2),
            "Params with aux": _size(ok, first, "params_with_aux_m", 2),
            "Batch size": _int(first.get("train_batch_size")),
            "lr": first.get("train_lr", "-"),
            "DP": first.get("train_drop_path", "-"),
            "Optimizer": "SGD + cosine",
            "Accuracy %": mean_std(ok["test_acc"]) if len(ok) else "FAILED",
            **({f"vs {random} (95% CI)": "-" if row == random else improvement(ok["test_acc"], random_acc)}
               if random else {}),
            "n": count(group, ok),
        })
    return pd.DataFrame(rows)


def _size(ok: pd.DataFrame, first: pd.Series, column: str, digits: int) -> str:
    """A row's FLOPs or params in millions: its genotype's; mean +- sd where the row's cells differ (random)."""
    values = pd.to_numeric(ok[column], errors="coerce").dropna() if column in ok else pd.Series(dtype=float)
    if values.nunique() > 1:
        return mean_std(values, digits) + "M"  # as the stability table writes a mean
    return f"{first.get(column, float('nan')):.{digits}f}M"


def _int(value) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "-"


TABLE_NOTES = (f"vs {RANDOM} (95% CI): the row's mean accuracy minus the random baseline's, with its 95% Welch "
               f"interval. {RANDOM}: one cell drawn uniformly from the space per seed (Yang et al., ICLR 2020), "
               "trained like the others; its FLOPs and params are the mean +- sd over its cells.")


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    from .. import plots

    ok = trials[trials["status"] == "ok"]
    summary = ok.groupby("row", sort=False).agg(flops_m=("flops_m", "mean"), test_acc=("test_acc", "mean"),
                                                test_acc_std=("test_acc", "std")).reset_index()
    return [plots.plot_accuracy_vs_flops(summary, out / "figures" / "accuracy_vs_flops.png", x="flops_m",
                                         y="test_acc", label="row")]
