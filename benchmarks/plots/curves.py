"""Curves and bars from the results tables: per-epoch bands over seeds, skip counts, accuracy vs FLOPs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .canvas import figure, require, save


def epoch_bands(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Mean and sample std of each column over rows sharing label and epoch.

    Columns: label, epoch, <col>_mean, <col>_std. Without a label column every row gets the
    label "". A group of one row has std 0.
    """
    frame = frame if "label" in frame else frame.assign(label="")
    grouped = frame.groupby(["label", "epoch"], sort=True)[list(columns)]
    stats = grouped.agg(["mean", "std"]).fillna(0.0)
    stats.columns = [f"{col}_{stat}" for col, stat in stats.columns]
    return stats.reset_index()


def skip_bands(frame: pd.DataFrame) -> pd.DataFrame:
    """epoch_bands of skip_normal and skip_reduce."""
    return epoch_bands(frame, ("skip_normal", "skip_reduce"))


def plot_epoch_bands(frame: pd.DataFrame, columns: Sequence[str], path: str | Path, ylabel: str,
                     prefix: str = "") -> Path:
    """Per label, the mean of each column per epoch with a std band (one line style per column)."""
    from matplotlib.ticker import MaxNLocator

    bands = epoch_bands(frame, columns)
    fig = figure((6.5, 4.0))
    ax = fig.subplots()
    for i, (label, group) in enumerate(bands.groupby("label", sort=False)):
        colour = f"C{i % 10}"
        for column, style in zip(columns, ("-", "--", ":", "-.")):
            mean, std = group[f"{column}_mean"], group[f"{column}_std"]
            name = column.removeprefix(prefix) if len(columns) > 1 else ""
            ax.plot(group["epoch"], mean, color=colour, ls=style, label=f"{label} {name}".strip() or column)
            ax.fill_between(group["epoch"], mean - std, mean + std, color=colour, alpha=0.15, lw=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_skip_counts(frame: pd.DataFrame, path: str | Path, one_cell: bool = False) -> Path:
    """Skip connections in the normal and reduce cell (one_cell: the only cell) per epoch; per label, mean
    with a std band."""
    if one_cell:
        return plot_epoch_bands(frame, ("skip_normal",), path, "skip connections in the cell")
    return plot_epoch_bands(frame, ("skip_normal", "skip_reduce"), path, "skip connections in the cell",
                            prefix="skip_")


# Axis titles for the trial columns the studies plot; other columns are shown by name.
AXIS_TITLES = {"flops_m": "FLOPs of the paper-scale network (M)", "params_m": "params of the paper-scale network (M)",
               "test_acc": "test accuracy (%)", "accuracy": "test accuracy (%)"}


def plot_accuracy_vs_flops(frame: pd.DataFrame, path: str | Path, x: str = "flops_m", y: str = "accuracy",
                           label: str | None = "model") -> Path:
    """Scatter of y against x with one text label per point; error bars from a y+'_std' column."""
    require(frame, [x, y] + ([label] if label else []))
    fig = figure((6.5, 4.5))
    ax = fig.subplots()
    yerr = frame[f"{y}_std"] if f"{y}_std" in frame else None
    ax.errorbar(frame[x], frame[y], yerr=yerr, fmt="o", capsize=3)
    if label:
        for _, row in frame.iterrows():
            ax.annotate(str(row[label]), (row[x], row[y]), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel(AXIS_TITLES.get(x, x))
    ax.set_ylabel(AXIS_TITLES.get(y, y))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def plot_bar_with_error(frame: pd.DataFrame, path: str | Path, x: str, y: str, yerr: str | None = None,
                        title: str | None = None) -> Path:
    """Bar chart of y per x with optional error bars from the yerr column."""
    require(frame, [x, y] + ([yerr] if yerr else []))
    fig = figure((max(4.0, 0.8 * len(frame) + 1.5), 4.0))
    ax = fig.subplots()
    positions = np.arange(len(frame))
    bars = ax.bar(positions, frame[y], yerr=frame[yerr] if yerr else None, capsize=4, color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xticks(positions, [str(v) for v in frame[x]], rotation=30 if len(frame) > 4 else 0, ha="right"
                  if len(frame) > 4 else "center")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save(fig, path)


def plot_seed_curves(frame: pd.DataFrame, column: str, path: str | Path, ylabel: str,
                     lines: dict[str, float] | None = None, title: str | None = None) -> Path:
    """Per label, every seed's curve of `column` over epochs (thin) and their mean (thick, one colour per
    label); `lines` draws named horizontal references (e.g. the optimum and a random cell's mean)."""
    from matplotlib.ticker import MaxNLocator

    require(frame, ["epoch", column])
    frame = frame if "label" in frame else frame.assign(label="")
    frame = frame if "seed" in frame else frame.assign(seed=0)
    fig = figure((7.0, 4.5))
    ax = fig.subplots()
    for i, (label, group) in enumerate(frame.groupby("label", sort=False)):
        colour, style = f"C{i % 10}", "-" if i < 10 else "--"  # 10 colours, then dashed
        for _, seed in group.groupby("seed"):
            ax.plot(seed["epoch"], seed[column], color=colour, ls=style, lw=0.7, alpha=0.45)
        mean = group.groupby("epoch")[column].mean()
        seeds = group["seed"].nunique()
        name = f"{label} (mean of {seeds} seeds)" if seeds > 1 else label
        ax.plot(mean.index, mean.values, color=colour, ls=style, lw=2.0, marker="o", ms=2.5, label=name or column)
    for i, (name, value) in enumerate((lines or {}).items()):
        ax.axhline(value, color="0.3", ls=(":", "-.", "--")[i % 3], lw=1.0, label=f"{name} ({value:.2f})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (0-based)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return save(fig, path)


def plot_op_counts(counts: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Stacked bars: per row label (the index), how many of its cells' edges hold each op (the columns)."""
    fig = figure((max(5.0, 0.7 * len(counts) + 3.0), 4.2))
    ax = fig.subplots()
    bottom = np.zeros(len(counts))
    positions = np.arange(len(counts))
    for i, op in enumerate(counts.columns):
        values = counts[op].to_numpy(dtype=float)
        ax.bar(positions, values, bottom=bottom, label=op, color=f"C{i % 10}")
        bottom += values
    ax.set_xticks(positions, [str(v) for v in counts.index], rotation=30, ha="right")
    ax.set_ylabel("edges of the final cells (all seeds)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return save(fig, path)
