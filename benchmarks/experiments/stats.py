"""Summary statistics shared by the experiment tables."""

from __future__ import annotations

import math

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
