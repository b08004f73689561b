"""Architecture weights: per-edge trajectories over epochs, final heatmaps, histograms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fairdarts_core.spaces.darts import EDGES

from .canvas import figure, save
from .cells import FAMILY_COLOURS, op_family


def edge_names(edges: Sequence[tuple[int, int]] = EDGES) -> list[str]:
    """The edges as 'src->dst' strings, in row order."""
    return [f"{src}->{dst}" for src, dst in edges]


def plot_weight_trajectories(history: Any, primitives: Sequence[str], path: str | Path,
                             cell: str = "normal", edges: Sequence[tuple[int, int]] = EDGES,
                             stage_starts: Sequence[int] = ()) -> Path:
    """One panel per edge: the activated weight of every op across epochs (1-based); dashed lines where a new
    stage starts (stage_starts: 0-based epoch indices) (P-DARTS: ops an edge no longer holds drop to 0 there)."""
    history = np.asarray(history, dtype=float)  # (epochs, edges, ops)
    if history.ndim != 3 or history.shape[1:] != (len(edges), len(primitives)):
        raise ValueError(f"history must have shape (epochs, {len(edges)}, {len(primitives)}), got {history.shape}")
    cols = min(7, len(edges))
    rows = -(-len(edges) // cols)
    fig = figure((2.2 * cols, 2.0 * rows + 1.0))
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    epochs = np.arange(history.shape[0]) + 1  # 1-based, as the figures of the studies
    for i, ax in enumerate(axes):
        if i >= len(edges):
            ax.set_visible(False)
            continue
        for j, op in enumerate(primitives):
            ax.plot(epochs, history[:, i, j], color=FAMILY_COLOURS[op_family(op)],
                    ls=_op_linestyle(op, primitives), lw=1.2, label=op)
        ax.set_title(edge_names(edges)[i], fontsize=9)
        for start in stage_starts:
            ax.axvline(start + 0.5, color="gray", ls="--", lw=0.8)
        ax.grid(alpha=0.3)
    for ax in axes[-cols:]:
        ax.set_xlabel("epoch (1 = the first)", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(primitives), fontsize=8, frameon=False)
    fig.suptitle(f"{_cell_name(cell)}: architecture weights per epoch")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return save(fig, path)


def plot_weight_heatmaps(weights: Mapping[str, Any], primitives: Sequence[str], path: str | Path,
                         activation: str, edges: Sequence[tuple[int, int]] = EDGES) -> Path:
    """Heatmaps of the final (edges, ops) weights of every cell, values written in each square."""
    cells = list(weights)
    # Sigmoid weights span 0..1; softmax ones over n ops sit near 1/n: scale the colours to the largest.
    top = 1.0 if activation == "sigmoid" else max(float(np.max(weights[c])) for c in cells) or 1.0
    fig = figure((len(cells) * (1.2 + 0.75 * len(primitives)), 1.0 + 0.43 * len(edges)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(cells)))
    for ax, cell in zip(axes, cells):
        values = np.asarray(weights[cell], dtype=float)  # (edges, ops)
        if values.shape != (len(edges), len(primitives)):
            raise ValueError(f"{cell} weights must have shape ({len(edges)}, {len(primitives)}), got {values.shape}")
        image = ax.imshow(values, vmin=0.0, vmax=top, cmap="viridis", aspect="auto")
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 0.6 * top else "white")
        ax.set_xticks(range(len(primitives)), primitives, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(edges)), edge_names(edges), fontsize=8)
        ax.set_title(_cell_name(cell))
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    fig.suptitle(f"{activation} weights")
    return save(fig, path)


def near_binary_fraction(weights: Mapping[str, Any], margin: float = 0.1) -> float:
    """Fraction of all weights of all cells within `margin` of 0 or 1."""
    values = _all_weights(weights)
    return float(np.mean(np.minimum(values, 1 - values) <= margin)) if values.size else 0.0


def plot_weight_histogram(weights: Mapping[str, Any], path: str | Path, activation: str) -> Path:
    """Histogram of the final weights of both cells; for sigmoid, how many sit near 0 or 1."""
    fig = figure((6.0, 4.0))
    ax = fig.subplots()
    cells = list(weights)
    data = [np.asarray(weights[cell], dtype=float).ravel() for cell in cells]
    ax.hist(data, bins=20, range=(0.0, 1.0), stacked=True, label=cells,
            color=[f"C{i}" for i in range(len(cells))])
    if activation == "sigmoid":
        for x in (0.1, 0.9):
            ax.axvline(x, color="black", ls="--", lw=1)
        ax.text(0.5, 0.95, f"{near_binary_fraction(weights):.0%} within 0.1 of 0 or 1",
                transform=ax.transAxes, ha="center", va="top")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{activation} weight")
    ax.set_ylabel("count")
    ax.legend()
    fig.tight_layout()
    return save(fig, path)


def _all_weights(weights: Mapping[str, Any]) -> np.ndarray:
    """Every weight of every cell as one flat array."""
    return np.concatenate([np.asarray(w, dtype=float).ravel() for w in weights.values()]) if weights else np.array([])


def _op_linestyle(op: str, primitives: Sequence[str]) -> str:
    """Tell apart ops of one colour family (max vs avg pool, 3x3 vs 5x5) by line style."""
    family = [p for p in primitives if op_family(p) == op_family(op)]
    return ("-", "--", ":", "-.")[family.index(op) % 4]


def _cell_name(kind: str) -> str:
    """'normal cell', 'reduce cell', or 'cell' for a space's only cell kind."""
    return "cell" if kind == "cell" else f"{kind} cell"
