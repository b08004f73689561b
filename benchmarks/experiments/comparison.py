"""Comparison: published genotypes (and optionally a stability run's) trained under one protocol with
the same seeds. Table in the published format: Model | FLOPs | Params | Batch size | lr | DP |
Optimizer | Accuracy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..spec import Experiment, Setting
from .stats import count, groups, improvement, mean_std, random_baseline

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "comparison"
TITLE = "Genotypes trained under one protocol"
MODELS = ("FairDARTS_a", "FairDARTS_b", "DARTS_V2", "PC_DARTS_cifar", "PDARTS")
SEEDS = {"paper": 3, "quick": 2, "smoke": 2}
NEEDS_NB201_TABLE = False


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
    return Experiment(NAME, TITLE, tuple(settings), seeds, sizes,
                      protocol="every genotype trained with the same seeds, batch, schedule, drop path and cutout")


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    random = random_baseline(trials)  # a sampler setting (e.g. random_uniform) trained beside the genotypes
    random_acc = trials[(trials["row"] == random) & (trials["status"] == "ok")]["test_acc"]
    rows = []
    for row, group, ok in groups(trials):
        first = ok.iloc[0] if len(ok) else group.iloc[0]
        rows.append({
            "Model": row,
            "FLOPs": f"{first.get('flops_m', float('nan')):.0f}M",
            "Params": f"{first.get('params_m', float('nan')):.2f}M",
            "Params with aux": f"{first.get('params_with_aux_m', float('nan')):.2f}M",
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


def _int(value) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "-"


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    from .. import plots

    ok = trials[trials["status"] == "ok"]
    summary = ok.groupby("row", sort=False).agg(flops_m=("flops_m", "first"), test_acc=("test_acc", "mean"),
                                                test_acc_std=("test_acc", "std")).reset_index()
    return [plots.plot_accuracy_vs_flops(summary, out / "figures" / "accuracy_vs_flops.png", x="flops_m",
                                         y="test_acc", label="row")]
