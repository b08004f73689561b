"""Curves and bars from the results tables: per-epoch bands over seeds, skip counts, accuracy vs FLOPs."""

from __future__ import annotations

import textwrap
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


# Distinct colours (tab10, then the dark tones of tab20b/c) and markers: label i gets COLOURS[i % 20] and
# MARKERS[i % 12], so that no two of up to 20 lines share both.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
           "#756bb1", "#000000")
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p")
EPOCH_AXIS = "epoch (1 = the first; epochs.csv counts from 0)"


def style(i: int) -> dict[str, str]:
    """Colour and marker of the i-th line of a figure."""
    return {"color": COLOURS[i % len(COLOURS)], "marker": MARKERS[i % len(MARKERS)]}


def band_note(limits: tuple[float | None, float | None]) -> str:
    """What a figure's lines and bands are, for its title."""
    low, high = limits
    clip = "" if low is None and high is None else \
        f", clipped to [{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
    return f"line: mean over seeds; band: mean +- 1 sd over seeds{clip}"


MAX_LINES = 4  # more labels than this: one panel per label (small multiples) instead of one line per label


def panel_grid(panels: int, by_label: bool, single: tuple[float, float], cell: tuple[float, float]):
    """A constrained figure of `panels` panels with shared axes: one per label in rows of 4 (`cell` inches each)
    when `by_label`, else one row (`single` inches per panel). Returns the figure, its axes and the columns."""
    ncols = min(4, panels) if by_label else panels
    nrows = -(-panels // ncols)
    size = (cell[0] * ncols + 2.8, cell[1] * nrows + 0.9) if by_label else (single[0] * ncols + 2.8, single[1])
    fig = figure(size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel(), ncols


def finish_panels(fig, axes, panels: int, ncols: int, ylabel: str) -> None:
    """Hide the unused panels, show the epochs under the lowest panel of each column, label the shared axes and
    put the first panel's legend outside, right."""
    for ax in axes[panels:]:
        ax.set_visible(False)
    for ax in axes[max(0, panels - ncols):panels]:
        ax.xaxis.set_tick_params(labelbottom=True)
    fig.supxlabel(EPOCH_AXIS, fontsize=8)
    fig.supylabel(ylabel, fontsize=9)
    handles, shown = axes[0].get_legend_handles_labels()
    fig.legend(handles, shown, loc="outside right upper", fontsize=8, frameon=False)


def plot_epoch_bands(frame: pd.DataFrame, columns: Sequence[str], path: str | Path, ylabel: str,
                     prefix: str = "", limits: tuple[float | None, float | None] = (None, None),
                     lines: dict[str, float] | None = None, title: str | None = None) -> Path:
    """Per label, the mean of each column per (1-based) epoch with a +-1 sd band clipped to `limits`. Up to
    MAX_LINES labels: one panel per column, one colour and marker per label; more: one panel per label (shared
    axes), one colour and marker per column. The legend sits outside the axes; `lines`: named horizontal
    references (e.g. a uniformly random cell's expectation), drawn in every panel."""
    from matplotlib.ticker import MaxNLocator

    bands = epoch_bands(frame, columns)
    grouped = (frame if "label" in frame else frame.assign(label="")).groupby("label", sort=False)
    seeds = {label: group["seed"].nunique() if "seed" in group else 1 for label, group in grouped}
    labels = list(seeds)
    names = {c: "cell" if c == "skip_cell" else c.removeprefix(prefix) + (" cell" if prefix == "skip_" else "")
             for c in columns}
    by_label = len(labels) > MAX_LINES
    panels = labels if by_label else list(columns)
    fig, axes, ncols = panel_grid(len(panels), by_label, (4.2, 4.2), (3.3, 2.7))
    low, high = (-np.inf if limits[0] is None else limits[0]), (np.inf if limits[1] is None else limits[1])
    for ax, panel in zip(axes, panels):
        pairs = [(panel, c) for c in columns] if by_label else [(label, panel) for label in labels]
        for i, (label, column) in enumerate(pairs):
            group = bands[bands["label"] == label]
            mean, std, epoch = group[f"{column}_mean"], group[f"{column}_std"], group["epoch"] + 1
            name = names[column] if by_label else (f"{label} (n={seeds[label]})" if label else names[column])
            ax.plot(epoch, mean, lw=1.4, ms=4, label=name, **style(i))
            ax.fill_between(epoch, np.clip(mean - std, low, high), np.clip(mean + std, low, high),
                            color=style(i)["color"], alpha=0.15, lw=0)
        for j, (ref, value) in enumerate((lines or {}).items()):
            ax.axhline(value, color="0.25", ls=("--", ":", "-.")[j % 3], lw=1.0, label=f"{ref} ({value:.2f})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if by_label:
            ax.set_title(f"{panel} (n={seeds[panel]})" if panel else "", fontsize=9)
        elif len(columns) > 1:
            ax.set_title(names[panel], fontsize=10)
        ax.grid(alpha=0.3)
    finish_panels(fig, axes, len(panels), ncols, ylabel)
    fig.suptitle((f"{title}\n" if title else "") + band_note(limits), fontsize=9)
    return save(fig, path)


def plot_skip_counts(frame: pd.DataFrame, path: str | Path, one_cell: bool = False, max_count: int | None = None,
                     lines: dict[str, float] | None = None) -> Path:
    """Skip connections in the normal and reduce cell (one_cell: the only cell) per epoch; per label, mean
    with a +-1 sd band clipped to [0, max_count] (the cell's edges)."""
    columns = ("skip_cell",) if one_cell else ("skip_normal", "skip_reduce")
    frame = frame.rename(columns={"skip_normal": "skip_cell"}) if one_cell else frame  # the space's only cell
    return plot_epoch_bands(frame, columns, path, "skip connections in the cell", prefix="skip_",
                            limits=(0, max_count), lines=lines)


# Axis titles for the trial columns the studies plot; other columns are shown by name.
AXIS_TITLES = {"flops_m": "FLOPs of the paper-scale network (M)", "params_m": "params of the paper-scale network (M)",
               "test_acc": "test accuracy (%)", "accuracy": "test accuracy (%)"}


def plot_accuracy_vs_flops(frame: pd.DataFrame, path: str | Path, x: str = "flops_m", y: str = "accuracy",
                           label: str | None = "model") -> Path:
    """Scatter of y against x with one text label per point; error bars (+-1 sd, said in the title) from a
    y+'_std' column."""
    require(frame, [x, y] + ([label] if label else []))
    fig = figure((6.5, 4.5))
    ax = fig.subplots()
    yerr = frame[f"{y}_std"] if f"{y}_std" in frame else None
    ax.errorbar(frame[x], frame[y], yerr=yerr, fmt="o", capsize=3)
    if yerr is not None:
        ax.set_title("points: means over seeds; bars: +-1 sd", fontsize=10)
    if label:
        for _, row in frame.iterrows():
            ax.annotate(str(row[label]), (row[x], row[y]), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel(AXIS_TITLES.get(x, x))
    ax.set_ylabel(AXIS_TITLES.get(y, y))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def plot_bar_with_error(frame: pd.DataFrame, path: str | Path, x: str, y: str, yerr: str | None = None,
                        title: str | None = None, ylabel: str | None = None, n: str | None = None,
                        failed: str | None = None, limits: tuple[float, float] | None = None) -> Path:
    """Bar chart of y per x with optional error bars from the yerr column. `n`: the column counting the values
    behind each bar: a bar of one value is hatched and marked n=1 (it has no error bar), a row with none (every
    trial failed) gets no bar but the word FAILED; `failed`: the column counting failed trials, named under the
    row's label; `limits`: the valid range the error bars are clipped to (e.g. (0, 100) for accuracies)."""
    require(frame, [x, y] + [c for c in (yerr, n, failed) if c])
    fig = figure((max(4.0, 0.8 * len(frame) + 1.5), 4.4))
    ax = fig.subplots()
    positions = np.arange(len(frame))
    values = pd.to_numeric(frame[y], errors="coerce")
    counts = frame[n].fillna(0).astype(int).to_numpy() if n else np.full(len(frame), 2)
    errors = pd.to_numeric(frame[yerr], errors="coerce").where(counts > 1) if yerr else None
    if errors is not None and limits is not None:  # asymmetric bars that stop at the valid range
        errors = np.array([np.minimum(errors, values - limits[0]), np.minimum(errors, limits[1] - values)])
    bars = ax.bar(positions, values.fillna(0), yerr=errors, capsize=4, color="tab:blue",
                  hatch=["//" if c == 1 else "" for c in counts], edgecolor="white")
    ax.bar_label(bars, labels=[f"{v:.2f}" + (" (n=1)" if c == 1 else "") if c else "" for v, c in zip(values, counts)],
                 fontsize=8, label_type="center", rotation=90, color="white", fontweight="bold")
    for position, c in zip(positions, counts):
        if c == 0:
            ax.text(position, 0, "FAILED", rotation=90, ha="center", va="bottom", color="tab:red", fontsize=9,
                    fontweight="bold")
    names = [str(v) + (f"\n({int(k)} failed)" if failed and k else "")
             for v, k in zip(frame[x], frame[failed] if failed else [0] * len(frame))]
    # Slanted labels where they would run into each other: many bars, or a label longer than its bar's slot.
    slanted = len(frame) > 4 or max((len(line) for name in names for line in name.splitlines()), default=0) > 14
    ax.set_xticks(positions, names, rotation=30 if slanted else 0, ha="right" if slanted else "center", fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or y)
    if title:
        text = title + (f", clipped to [{limits[0]:g}, {limits[1]:g}]" if limits and yerr else "")
        ax.set_title(textwrap.fill(text, int(11 * fig.get_figwidth()))
                     + ("\nhatched: one value (n=1), no error bar" if (counts == 1).any() else ""), fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def plot_seed_curves(frame: pd.DataFrame, column: str, path: str | Path, ylabel: str,
                     lines: dict[str, float] | None = None, title: str | None = None) -> Path:
    """Per label, every seed's curve of `column` over epochs (thin) and their mean (thick); `lines` draws named
    horizontal references (e.g. the optimum and a random cell's mean). Up to MAX_LINES labels share one panel,
    one colour per label; more get one panel each (shared axes), so that no line hides another."""
    from matplotlib.ticker import MaxNLocator

    require(frame, ["epoch", column])
    frame = frame if "label" in frame else frame.assign(label="")
    frame = frame if "seed" in frame else frame.assign(seed=0)
    groups = list(frame.groupby("label", sort=False))
    by_label = len(groups) > MAX_LINES
    panels = len(groups) if by_label else 1
    fig, axes, ncols = panel_grid(panels, by_label, (4.2, 4.5), (3.3, 2.6))
    for i, (label, group) in enumerate(groups):
        ax = axes[i] if by_label else axes[0]
        colour, marker = ("tab:blue", "o") if by_label else (style(i)["color"], style(i)["marker"])
        for _, seed in group.groupby("seed"):
            ax.plot(seed["epoch"] + 1, seed[column], color=colour, lw=0.7, alpha=0.45)
        mean = group.groupby("epoch")[column].mean()
        seeds = group["seed"].nunique()
        name = f"{label} (mean of {seeds} seeds)" if seeds > 1 else label
        ax.plot(mean.index + 1, mean.values, color=colour, lw=2.0, marker=marker, ms=3.5,
                label="mean over seeds (thin: each seed)" if by_label else (name or column))
        if by_label:
            ax.set_title(f"{label} (n={seeds})" if label else column, fontsize=9)
    for ax in axes[:panels]:
        for j, (name, value) in enumerate((lines or {}).items()):
            ax.axhline(value, color="0.3", ls=(":", "-.", "--")[j % 3], lw=1.0, label=f"{name} ({value:.2f})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    finish_panels(fig, axes, panels, ncols, ylabel)
    if title:
        fig.suptitle(title, fontsize=10)
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
