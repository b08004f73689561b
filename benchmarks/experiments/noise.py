"""Noise calibration: how far one genotype's accuracy moves with its training seed alone. Two published cells
(DARTS_V2, FairDARTS_a) trained with many seeds under each training protocol a committed study uses, no search.
On the bundled digits (quick preset): 3 epochs as ablation, comparison and collapse train; 10 epochs as variants
trains. On another image set (`--dataset folder --data-dir <the unpacked CIFAR-10 JPEG copy>`, into its own folder,
e.g. results/noise_cifar10): the candidate protocols for the DARTS-space studies on CIFAR-10, 10 epochs on the
first 5,000 and 10,000 training images, scored on the whole test set. Per cell and protocol: mean, std over seeds
and the binomial standard error of the test set. Its report writes calibration.csv (cell, protocol, seed,
accuracy), which the captions of the other studies read (sibling folders named noise*) for their noise floor."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..spec import Experiment, Setting
from .stats import CALIBRATION_COLUMNS, count, groups, mean_std, training_protocol
from .variants import QUICK_TRAIN

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

NAME = "noise"
TITLE = "Training noise: published cells over training seeds"
SEEDS = {"paper": 6, "quick": 8, "smoke": 2}  # quick: 2 cells x 2 protocols x 8 seeds, ~35 minutes on 2 cores
NEEDS_NB201_TABLE = False
CELLS = ("DARTS_V2", "FairDARTS_a")
SMOKE_CELLS = CELLS[:1]  # the tests' run: one training per seed
# Training protocols per preset (overrides of the preset's training), named as the rows say.
PROTOCOLS = {"paper": {"published training": {}},
             "quick": {"3 epochs": {}, "10 epochs": dict(QUICK_TRAIN)},
             "smoke": {"smoke training": {}}}
# The quick preset on an image set other than the digits (CIFAR-10's 50,000 training images): the candidate
# protocols for the DARTS-space studies, chosen before the calibration ran, to fit a study in <= 2 hours on 2
# cores: 10 epochs at lr 0.05 on the first 5,000 or 10,000 training images. Measured on the CIFAR-10 JPEG copy
# (results/noise_cifar10): ~305 and ~520 s of one core a training; the 10,000-image protocol has the smaller
# training-seed std and is the quick preset's training on image sets (fairdarts_core/sizes.py), which these
# overrides start from.
IMAGE_SET_PROTOCOLS = {"5k images, 10 epochs": {"train_limit": 5000}, "10k images, 10 epochs": {}}
CALIBRATION_FILE = "calibration.csv"
# Test images of the datasets whose name says nothing of their size; others are inferred from the accuracies.
TEST_IMAGES = {"digits-test": 1000, "cifar10-test": 10000, "cifar100-test": 10000}


def protocols(sizes: Sizes, dataset: str = "digits") -> dict[str, dict]:
    """The training protocols (name -> training overrides) this preset calibrates on this dataset."""
    return IMAGE_SET_PROTOCOLS if sizes.name == "quick" and dataset != "digits" else PROTOCOLS[sizes.name]


def build(sizes: Sizes, seeds: tuple[int, ...], dataset: str = "digits", **_) -> Experiment:
    cells, chosen = SMOKE_CELLS if sizes.name == "smoke" else CELLS, protocols(sizes, dataset)
    settings = tuple(Setting(f"{cell}, {name}", genotype=cell, train_overrides=dict(overrides))
                     for name, overrides in chosen.items() for cell in cells)
    return Experiment(NAME, TITLE, settings, seeds, sizes,
                      protocol=f"cells {', '.join(cells)} (published genotypes, no search), each trained once per "
                               f"seed under each protocol ({'; '.join(chosen)}); the seed sets the "
                               "weights' initialisation, the batch order and the augmentation")


def test_set_size(dataset: str, accuracies: pd.Series) -> tuple[int, bool]:
    """(test images, whether inferred): from TEST_IMAGES, else the least N with every accuracy (%) a whole count
    of N images (a divisor of the true size when the accuracies happen to share factors)."""
    if dataset in TEST_IMAGES:
        return TEST_IMAGES[dataset], False
    values = pd.to_numeric(accuracies, errors="coerce").dropna()
    for n in range(1, 100_001):
        if all(abs(v * n / 100 - round(v * n / 100)) < 1e-6 for v in values):
            return n, True
    return 0, True


def calibration(trials: pd.DataFrame) -> pd.DataFrame:
    """calibration.csv's rows: each ok training's cell, protocol (its name from the trial's training columns),
    seed and test accuracy."""
    ok = trials[(trials["status"] == "ok") & trials["test_acc"].notna()]
    return pd.DataFrame({"cell": [label.split(", ")[0] for label in ok["label"]],
                         "protocol": [training_protocol(r) for _, r in ok.iterrows()],
                         "seed": ok["seed"].astype(int).tolist(), "accuracy": ok["test_acc"].tolist()},
                        columns=list(CALIBRATION_COLUMNS))


def write_files(out: Path, trials: pd.DataFrame) -> list[Path]:
    """The report's extra file: calibration.csv."""
    path = out / CALIBRATION_FILE
    calibration(trials).to_csv(path, index=False, float_format="%.4f")
    return [path]


def table(trials: pd.DataFrame, benchmark: dict | None = None) -> pd.DataFrame:
    rows = []
    for row, group, ok in groups(trials):
        acc = pd.to_numeric(ok["test_acc"], errors="coerce").dropna()
        dataset = str(ok["dataset"].iloc[0]) if len(ok) and "dataset" in ok else ""
        images, inferred = test_set_size(dataset, acc) if len(acc) else (0, False)
        p = acc.mean() / 100 if len(acc) else math.nan
        se = 100 * math.sqrt(p * (1 - p) / images) if images and len(acc) else math.nan
        rows.append({"Cell": row.split(", ")[0], "Protocol": row.partition(", ")[2],
                     "Training": training_protocol(ok.iloc[0]) if len(ok) else "-",
                     "Accuracy %": mean_std(acc), "Std over seeds": f"{acc.std(ddof=1):.2f}" if len(acc) > 1 else "-",
                     "Binomial SE": "-" if math.isnan(se) else f"{se:.2f}",
                     "Test images": f"{images}" + (" (inferred)" if inferred else "") if images else "-",
                     "n": count(group, ok)})
    return pd.DataFrame(rows)


TABLE_NOTES = ("Std over seeds: the sample std of one cell's test accuracy over training seeds (the training "
               "noise of the protocol: what a table's difference must exceed). Binomial SE: sqrt(p(1-p)/N) of the "
               "test set's N images at the mean accuracy p, the part of that spread the finite test set alone "
               "makes. calibration.csv holds every seed's accuracy for the captions of the other studies.")


def figures(out: Path, trials: pd.DataFrame, epochs: pd.DataFrame, benchmark: dict | None = None) -> list[Path]:
    from .. import plots
    from .stats import bar_summary

    return [plots.plot_bar_with_error(bar_summary(trials, "test_acc"), out / "figures" / "accuracy.png", x="row",
                                      y="mean", yerr="std", n="n", failed="failed", ylabel="test accuracy (%)",
                                      limits=(0, 100),
                                      title="One genotype over training seeds (mean +- sd)")]
