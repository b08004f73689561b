"""Summary statistics shared by the experiment tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd


def mean_std(values: pd.Series, digits: int = 2) -> str:
    """'mean +- std' over the finite values (sample std, ddof=1); '-' when there are none."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "-"
    if len(v) == 1:
        return f"{v.iloc[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} +- {v.std(ddof=1):.{digits}f}"


def ci95(values: pd.Series, digits: int = 2) -> str:
    """The 95% t-interval of the mean, '[lo, hi]'."""
    from scipy import stats

    v = pd.to_numeric(values, errors="coerce").dropna()
    if len(v) < 2:
        return "-"
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return f"[{v.mean() - half:.{digits}f}, {v.mean() + half:.{digits}f}]"


def welch_p(a: pd.Series, b: pd.Series) -> float:
    """Two-sided Welch's t-test p-value; NaN with fewer than 2 values on a side or no variance."""
    from scipy import stats

    a = pd.to_numeric(a, errors="coerce").dropna()
    b = pd.to_numeric(b, errors="coerce").dropna()
    if len(a) < 2 or len(b) < 2 or (a.std() == 0 and b.std() == 0):
        return float("nan")
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def fmt_p(p: float) -> str:
    return "-" if np.isnan(p) else f"{p:.3f}"


def paired_p(a: pd.Series, b: pd.Series) -> float:
    """Two-sided paired t-test p-value of a against b, paired by their index (the seed); NaN with fewer
    than 2 pairs or no variance in the differences."""
    from scipy import stats

    pairs = pd.concat([pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")], axis=1).dropna()
    if len(pairs) < 2 or pairs.iloc[:, 0].sub(pairs.iloc[:, 1]).std() == 0:
        return float("nan")
    return float(stats.ttest_rel(pairs.iloc[:, 0], pairs.iloc[:, 1]).pvalue)


def groups(trials: pd.DataFrame):
    """(row name, its trials, the ok ones) in the order the rows first appear."""
    for row in dict.fromkeys(trials["row"]):
        group = trials[trials["row"] == row]
        yield row, group, group[group["status"] == "ok"]


def count(group: pd.DataFrame, ok: pd.DataFrame) -> str:
    """'n' of a row: the ok trials, and the failed ones if any."""
    failed = len(group) - len(ok)
    return f"{len(ok)}" + (f" ({failed} failed)" if failed else "")


def bar_summary(trials: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per row of the table, in order, failed rows included: the mean and sample std of `column` over the ok
    trials, how many ok trials hold a value (n) and how many failed (the bars of the study figures)."""
    rows = []
    for row, group, ok in groups(trials):
        values = pd.to_numeric(ok.get(column, pd.Series(dtype=float)), errors="coerce").dropna()
        rows.append({"row": row, "mean": values.mean() if len(values) else float("nan"),
                     "std": values.std(ddof=1) if len(values) > 1 else float("nan"),
                     "n": len(values), "failed": len(group) - len(ok)})
    return pd.DataFrame(rows, columns=["row", "mean", "std", "n", "failed"])


# ----- the noise floor of trained accuracies ---------------------------------------------------------
CALIBRATION_COLUMNS = ("cell", "protocol", "seed", "accuracy")
PROTOCOL_COLUMNS = ("dataset", "train_channels", "train_layers", "train_epochs", "train_batch_size", "train_lr",
                    "train_drop_path")


def training_protocol(row: pd.Series | dict) -> str:
    """The name of the training protocol of a trials.csv row (data, network, epochs, batch, lr, drop path); the
    noise calibration's `protocol` column holds these names. '' for a row that did not train. A training on part of
    the training set (train_limit) says how many images."""
    get = row.get
    if pd.isna(get("train_epochs")) or pd.isna(get("dataset")):
        return ""
    limit = get("train_limit")  # absent in folders written before the column; 0: the whole training set
    images = f", {int(limit)} training images" if limit is not None and pd.notna(limit) and limit > 0 else ""
    return (f"{get('dataset')}{images}, C={int(get('train_channels'))}, {int(get('train_layers'))} cells, "
            f"{int(get('train_epochs'))} epochs, batch {int(get('train_batch_size'))}, lr {float(get('train_lr')):g}, "
            f"drop path {float(get('train_drop_path')):g}")


def min_detectable_difference(std: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference of two means, each over n values of standard deviation `std`, that a two-sided
    two-sample t-test at `alpha` finds with probability `power` (noncentral t; NaN for n < 2)."""
    from scipy import optimize, stats

    if n < 2 or not std > 0:
        return float("nan")
    df = 2 * n - 2
    critical = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(shift: float) -> float:  # power at a noncentrality of `shift`, minus the goal
        lower = float(np.nan_to_num(stats.nct.cdf(-critical, df, shift)))  # ~0, and NaN far out in scipy's nct
        return stats.nct.sf(critical, df, shift) + lower - power

    shift = optimize.brentq(shortfall, 1e-6, critical + 10.0, xtol=1e-10)
    return float(shift / math.sqrt(n / 2) * std)


def noise_floor(calibration: pd.DataFrame, protocol: str) -> tuple[float, int, int] | None:
    """(training-seed std pooled over the calibration's cells, cells, seeds per cell at least) of a protocol: the
    spread of one genotype's accuracy from its training seed alone; None when the protocol was not measured."""
    rows = calibration[calibration["protocol"] == protocol] if len(calibration) else calibration
    per_cell = [pd.to_numeric(g["accuracy"], errors="coerce").dropna() for _, g in rows.groupby("cell", sort=True)] \
        if len(rows) else []
    per_cell = [v for v in per_cell if len(v) >= 2]
    if not per_cell:
        return None
    pooled = sum((len(v) - 1) * v.var(ddof=1) for v in per_cell) / sum(len(v) - 1 for v in per_cell)
    return math.sqrt(pooled), len(per_cell), min(len(v) for v in per_cell)


def read_calibration(paths: list[Path]) -> pd.DataFrame:
    """The rows of the noise calibration files that exist (columns cell, protocol, seed, accuracy)."""
    frames = [pd.read_csv(p) for p in sorted(paths) if p.is_file()]
    frames = [f for f in frames if set(CALIBRATION_COLUMNS) <= set(f.columns)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(CALIBRATION_COLUMNS))


def noise_caption(trials: pd.DataFrame, calibration: pd.DataFrame) -> str:
    """The caption's sentence on the noise floor of a table's trained accuracies: per training protocol of its
    ok rows, the measured training-seed std and the smallest difference a two-sample t-test (alpha 0.05, power
    0.8) detects at the table's n (the most ok seeds of a method's row; a random baseline's larger n in
    parentheses); '' when nothing was trained."""
    ok = trials[(trials["status"] == "ok") & trials.get("test_acc", pd.Series(dtype=float)).notna()] \
        if "status" in trials and "test_acc" in trials else trials.iloc[:0]
    if ok.empty:
        return ""
    protocols = [p for p in dict.fromkeys(training_protocol(r) for _, r in ok.iterrows()) if p]
    per_row = ok.groupby("row")["seed"].nunique().astype(int)
    methods = per_row[[row not in RANDOM_BASELINES for row in per_row.index]]
    n = int((methods if len(methods) else per_row).max())  # the methods' n; a random baseline's larger n apart
    others = sorted({int(k) for k in per_row if k > n})
    parts = []
    for protocol in protocols:
        floor = noise_floor(calibration, protocol)
        if floor is None:
            parts.append(f"noise floor not measured for this protocol ({protocol})")
            continue
        std, cells, seeds = floor
        mdd = min_detectable_difference(std, n)
        detect = (f"at n={n} a two-sample t-test (alpha 0.05, power 0.8) detects differences of "
                  f"{mdd:.2f} points or more" if n >= 2 else f"at n={n} no test can tell rows apart")
        detect += "".join(f" (at n={k}: {min_detectable_difference(std, k):.2f})" for k in others if k >= 2)
        parts.append(f"noise floor of this protocol ({protocol}): training-seed std {std:.2f} points "
                     f"(calibration: {cells} cells x {seeds}+ seeds); {detect}")
    return "; ".join(parts)


# ----- random baselines --------------------------------------------------------------------------------
RANDOM_BASELINES = ("random_uniform", "random_flops_matched", "random_darts")  # in order of preference
# A random baseline's samples per preset, at least: enough for its mean's interval (Yang et al., ICLR 2020); the
# tests' smoke runs keep the study's seeds.
RANDOM_SAMPLES = {"paper": 6, "quick": 6, "smoke": 1}


def random_seeds(preset: str, seeds: tuple[int, ...]) -> tuple[int, ...]:
    """The seeds of a random baseline's setting: the study's extended to the preset's RANDOM_SAMPLES, or () (the
    study's own) where they are as many already."""
    extra = RANDOM_SAMPLES[preset] - len(seeds)
    start = max(seeds, default=-1) + 1
    return tuple(seeds) + tuple(range(start, start + extra)) if extra > 0 else ()


def random_baseline(trials: pd.DataFrame) -> str | None:
    """The row of the study's random baseline: the first of RANDOM_BASELINES with a row; None without one."""
    rows = set(trials["row"])
    return next((name for name in RANDOM_BASELINES if name in rows), None)


def improvement(method: pd.Series, random: pd.Series, digits: int = 2) -> str:
    """A method's mean minus the random baseline's mean with its 95% Welch interval, '+d [lo, hi]'; '-' with
    fewer than 2 values on a side (no interval)."""
    from scipy import stats

    a = pd.to_numeric(method, errors="coerce").dropna()
    b = pd.to_numeric(random, errors="coerce").dropna()
    if len(a) < 2 or len(b) < 2:
        return "-"
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = a.mean() - b.mean()
    if va + vb == 0:
        return f"{diff:+.{digits}f} [{diff:+.{digits}f}, {diff:+.{digits}f}]"
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    return f"{diff:+.{digits}f} [{diff - half:+.{digits}f}, {diff + half:+.{digits}f}]"
