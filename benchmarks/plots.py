"""Figures drawn from stored results: cells, architecture weights, skip counts, accuracy tables.

Every `plot_*` function is a pure function of its inputs: it builds a `matplotlib.figure.Figure`
on an Agg canvas (no pyplot, so no global state and nothing left open), saves one PNG to `path`
(creating its parent folders) and returns that path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch

from fairdarts_core.genotype import Genotype, computed_nodes, output_nodes
from fairdarts_core.space import EDGES, NUM_INPUTS

CELLS = ("normal", "reduce")
DPI = 120

# Op families and their colours; ignored edges and nodes are drawn in IGNORED_COLOUR.
FAMILY_COLOURS = {
    "pool": "tab:blue",
    "skip": "tab:green",
    "sep": "tab:orange",
    "dil": "tab:purple",
    "none": "black",
    "other": "tab:brown",
}
IGNORED_COLOUR = "#b0b0b0"

# Cell drawing geometry, in data units; the cell axes use an equal aspect and INCH_PER_UNIT.
X_STEP = 2.6  # horizontal distance between consecutive nodes
Y_INPUT = 2.1  # c_{k-2} sits at +Y_INPUT, c_{k-1} at -Y_INPUT
Y_ZIGZAG = 1.05  # intermediate nodes alternate between +/- Y_ZIGZAG so that no three line up
NODE_RADIUS = 0.36
INCH_PER_UNIT = 0.62
LABEL_FONTSIZE = 7
CHAR_WIDTH = LABEL_FONTSIZE * 0.62 / 72 / INCH_PER_UNIT  # monospace-ish estimate, data units
LABEL_HEIGHT = LABEL_FONTSIZE * 1.45 / 72 / INCH_PER_UNIT
BENDS = (0.0, 0.25, -0.25, 0.5, -0.5, 0.8, -0.8, 1.1, -1.1)  # sideways offset of an arrow's middle, data units
LABEL_AT = (0.5, 0.38, 0.62)  # where along its arrow a label may sit


# ----- cells ---------------------------------------------------------------------------------
def op_family(op: str) -> str:
    """The colour family of an op name: pool, skip, sep, dil, none or other."""
    if "pool" in op:
        return "pool"
    if op == "skip_connect":
        return "skip"
    if op.startswith("sep_conv"):
        return "sep"
    if op.startswith("dil_conv"):
        return "dil"
    if op == "none":
        return "none"
    return "other"


def cell_layout(genotype: Genotype, cell: str) -> dict[int, dict[str, Any]]:
    """Node -> {state: input|computed|ignored|output, xy}; the output node c_k takes the next free index."""
    edges, concat = genotype.cell(cell)
    last = max([dst for _, dst, _ in edges] + list(concat))
    alive = set(computed_nodes(edges, concat))
    layout = {
        0: {"state": "input", "xy": (0.0, Y_INPUT)},
        1: {"state": "input", "xy": (0.0, -Y_INPUT)},
    }
    for node in range(NUM_INPUTS, last + 1):
        y = Y_ZIGZAG if node % 2 == 0 else -Y_ZIGZAG
        layout[node] = {"state": "computed" if node in alive else "ignored", "xy": ((node - 1) * X_STEP, y)}
    layout[last + 1] = {"state": "output", "xy": (last * X_STEP, 0.0)}
    return layout


def node_label(node: int, state: str) -> str:
    """Mathtext name of a node: c_{k-2}, c_{k-1}, 0..n for intermediate nodes, c_{k} for the output."""
    if state == "input":
        return r"$c_{k-2}$" if node == 0 else r"$c_{k-1}$"
    if state == "output":
        return r"$c_{k}$"
    return str(node - NUM_INPUTS)


def cell_arrows(genotype: Genotype, cell: str) -> list[dict[str, Any]]:
    """Every arrow of a cell drawing, with its curvature and label position chosen.

    Each arrow is {op (None for an edge into the output node), src, dst, rad, label_xy, label_size,
    colour, points}. Arrows are placed greedily, shortest first, each trying every bend in BENDS and
    label position in LABEL_AT, so that arrows clear other nodes and labels neither overlap nor cover
    other arrows. Several ops on one (src, dst) pair thus get different bends.
    """
    edges, concat = genotype.cell(cell)
    layout = cell_layout(genotype, cell)
    centres = {node: np.array(info["xy"]) for node, info in layout.items()}
    out = next(node for node, info in layout.items() if info["state"] == "output")
    wanted = sorted(((op, src, dst) for op, dst, src in edges),
                    key=lambda e: np.linalg.norm(centres[e[2]] - centres[e[1]]))
    wanted += [(None, node, out) for node in output_nodes(edges, concat)]
    boxes: list[tuple[np.ndarray, np.ndarray]] = []  # placed labels: (centre, (width, height))
    curves: list[np.ndarray] = []  # sampled points of placed arrows
    arrows = []
    for op, src, dst in wanted:
        a, b = centres[src], centres[dst]
        size = np.array([len(op) * CHAR_WIDTH + 0.12, LABEL_HEIGHT]) if op else None
        others = [centres[n] for n in centres if n not in (src, dst)]
        length = np.linalg.norm(b - a)
        candidates = [(2 * bend / length, t) for bend in BENDS for t in (LABEL_AT if op else (0.5,))]
        rad, t = min(candidates, key=lambda c: _arrow_cost(a, b, c[0], c[1], size, others,
                                                           list(centres.values()), boxes, curves))
        label_xy = _arc_point(a, b, rad, t)
        points = _arc_points(a, b, rad)
        if size is not None:
            boxes.append((label_xy, size))
        curves.append(points)
        colour = IGNORED_COLOUR if layout[src]["state"] == "ignored" else \
            (FAMILY_COLOURS[op_family(op)] if op else "dimgray")
        arrows.append({"op": op, "src": src, "dst": dst, "rad": float(rad), "label_xy": tuple(label_xy),
                       "label_size": None if size is None else tuple(size), "colour": colour,
                       "points": points})
    return arrows


def plot_cells(genotype: Genotype, path: str | Path, title: str | None = None) -> Path:
    """Draw the normal and reduce cells side by side, one labelled arrow per op."""
    cells = {cell: (cell_layout(genotype, cell), cell_arrows(genotype, cell)) for cell in CELLS}
    low, high = _extent(cells.values())
    span = high - low
    fig = _figure((2 * span[0] * INCH_PER_UNIT + 0.3, span[1] * INCH_PER_UNIT + 1.0))
    axes = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.01, right=0.99, wspace=0.02, bottom=0.8 / (span[1] * INCH_PER_UNIT + 1.0),
                        top=1 - 0.55 / (span[1] * INCH_PER_UNIT + 1.0))
    families, any_ignored = set(), False
    for ax, (cell, (layout, arrows)) in zip(axes, cells.items()):
        _draw_cell(ax, layout, arrows)
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"{cell} cell", fontsize=10)
        families |= {op_family(a["op"]) for a in arrows if a["op"]}
        any_ignored |= any(info["state"] == "ignored" for info in layout.values())
    handles = [Line2D([], [], color=FAMILY_COLOURS[f], lw=2, label=f) for f in FAMILY_COLOURS if f in families]
    if any_ignored:
        handles.append(Line2D([], [], color=IGNORED_COLOUR, lw=2, ls="--", label="ignored"))
    handles.append(Line2D([], [], color="dimgray", lw=1.2, ls=":", label=r"into $c_{k}$"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _extent(cells: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lower-left and upper-right corners holding every node, arrow and label of the cells."""
    points = []
    for layout, arrows in cells:
        for info in layout.values():
            points += [np.array(info["xy"]) - NODE_RADIUS, np.array(info["xy"]) + NODE_RADIUS]
        for arrow in arrows:
            points += list(arrow["points"])
            if arrow["label_size"]:
                half = np.array(arrow["label_size"]) / 2
                points += [np.array(arrow["label_xy"]) - half, np.array(arrow["label_xy"]) + half]
    points = np.array(points)
    return points.min(axis=0) - 0.15, points.max(axis=0) + 0.15


def _draw_cell(ax, layout: Mapping[int, Mapping[str, Any]], arrows: Sequence[Mapping[str, Any]]) -> None:
    """Draw nodes as circles, then the arrows clipped to them, then the op labels on top."""
    circles = {}
    for node, info in layout.items():
        state = info["state"]
        face = {"input": "#dcefff", "computed": "#fff3c4", "ignored": "#f2f2f2", "output": "#d9f2d9"}[state]
        circle = Circle(info["xy"], NODE_RADIUS, facecolor=face, zorder=3, lw=1.2,
                        edgecolor=IGNORED_COLOUR if state == "ignored" else "black",
                        linestyle="--" if state == "ignored" else "-")
        ax.add_patch(circle)
        circles[node] = circle
        ax.text(*info["xy"], node_label(node, state), ha="center", va="center", zorder=4, fontsize=9,
                color="gray" if state == "ignored" else "black")
    for arrow in arrows:
        patch = FancyArrowPatch(layout[arrow["src"]]["xy"], layout[arrow["dst"]]["xy"],
                                connectionstyle=f"arc3,rad={arrow['rad']}", arrowstyle="-|>",
                                mutation_scale=9, lw=1.1, color=arrow["colour"],
                                patchA=circles[arrow["src"]], patchB=circles[arrow["dst"]], zorder=2,
                                linestyle="-" if arrow["op"] else ":")
        ax.add_patch(patch)
        if arrow["op"]:
            ax.text(*arrow["label_xy"], arrow["op"], ha="center", va="center", fontsize=LABEL_FONTSIZE,
                    color=arrow["colour"], zorder=5,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9})


def _arc_point(a: np.ndarray, b: np.ndarray, rad: float, t: Any) -> np.ndarray:
    """Point(s) at parameter t on matplotlib's arc3 quadratic Bezier from a to b (equal aspect axes)."""
    d = b - a
    control = (a + b) / 2 + rad * np.array([d[1], -d[0]])
    t = np.asarray(t, dtype=float)[..., None]
    return ((1 - t) ** 2 * a + 2 * t * (1 - t) * control + t ** 2 * b).squeeze()


def _arc_points(a: np.ndarray, b: np.ndarray, rad: float) -> np.ndarray:
    """Sampled points along an arrow, leaving out the ends hidden under the node circles."""
    return _arc_point(a, b, rad, np.linspace(0.1, 0.9, 25))


def _in_boxes(points: np.ndarray, centres: np.ndarray, sizes: np.ndarray) -> int:
    """How many (point, box) pairs have the point inside the box; points (n, 2), boxes (m, 2)."""
    inside = np.abs(points[:, None, :] - centres[None, :, :]) < sizes[None, :, :] / 2
    return int(inside.all(axis=2).sum())


def _arrow_cost(a: np.ndarray, b: np.ndarray, rad: float, t: float, size: np.ndarray | None,
                others: Sequence[np.ndarray], nodes: Sequence[np.ndarray],
                boxes: Sequence[tuple[np.ndarray, np.ndarray]], curves: Sequence[np.ndarray]) -> float:
    """Badness of drawing a->b with curvature rad and its label at t: grazed nodes, covered labels."""
    points = _arc_points(a, b, rad)
    cost = 0.6 * abs(rad) * np.linalg.norm(b - a) + 0.5 * abs(t - 0.5)  # prefer straight, centred
    box_xy = np.array([c for c, _ in boxes]).reshape(-1, 2)
    box_size = np.array([s for _, s in boxes]).reshape(-1, 2)
    drawn = np.concatenate(curves) if curves else np.empty((0, 2))
    if others:  # the arrow should keep clear of nodes it does not join
        clearance = np.linalg.norm(points[:, None, :] - np.array(others)[None], axis=2).min(axis=0) - NODE_RADIUS
        cost += 20 * np.clip(0.25 - clearance, 0, None).sum()
    cost += 0.5 * _in_boxes(points, box_xy, box_size)  # nor run under labels already placed
    if len(drawn):  # nor run along another arrow
        gaps = np.linalg.norm(points[:, None, :] - drawn[None], axis=2).min(axis=1)
        cost += 0.2 * np.sum(gaps < 0.12)
    if size is None:
        return float(cost)
    label = _arc_point(a, b, rad, t)
    overlap = np.clip((size + box_size) / 2 + 0.04 - np.abs(label - box_xy), 0, None)  # labels apart
    cost += 200 * np.sum(overlap[:, 0] * overlap[:, 1]) + 8 * np.sum(overlap.all(axis=1))
    nearest = np.clip(np.array(nodes), label - size / 2, label + size / 2)  # no label on a node
    cost += 20 * np.clip(NODE_RADIUS + 0.08 - np.linalg.norm(nearest - np.array(nodes), axis=1), 0, None).sum()
    cost += 0.5 * _in_boxes(drawn, label[None], size[None])  # nor on another arrow
    return float(cost)


# ----- architecture weights ------------------------------------------------------------------
def edge_names() -> list[str]:
    """The 14 edges as 'src->dst' strings, in row order."""
    return [f"{src}->{dst}" for src, dst in EDGES]


def plot_weight_trajectories(history: Any, primitives: Sequence[str], path: str | Path,
                             cell: str = "normal") -> Path:
    """One panel per edge: the activated weight of every op across epochs."""
    history = np.asarray(history, dtype=float)  # (epochs, edges, ops)
    if history.ndim != 3 or history.shape[1:] != (len(EDGES), len(primitives)):
        raise ValueError(f"history must have shape (epochs, {len(EDGES)}, {len(primitives)}), got {history.shape}")
    cols = 7
    rows = -(-len(EDGES) // cols)
    fig = _figure((2.2 * cols, 2.0 * rows + 1.0))
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel()
    epochs = np.arange(history.shape[0])
    for i, ax in enumerate(axes):
        if i >= len(EDGES):
            ax.set_visible(False)
            continue
        for j, op in enumerate(primitives):
            ax.plot(epochs, history[:, i, j], color=FAMILY_COLOURS[op_family(op)],
                    ls=_op_linestyle(op, primitives), lw=1.2, label=op)
        ax.set_title(edge_names()[i], fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[-cols:]:
        ax.set_xlabel("epoch", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(primitives), fontsize=8, frameon=False)
    fig.suptitle(f"{cell} cell: architecture weights per epoch")
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return _save(fig, path)


def plot_weight_heatmaps(weights: Mapping[str, Any], primitives: Sequence[str], path: str | Path,
                         activation: str) -> Path:
    """Heatmaps of the final (edges, ops) weights of both cells, values written in each square."""
    fig = _figure((2 * (1.2 + 0.75 * len(primitives)), 7.0), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, cell in zip(axes, CELLS):
        values = np.asarray(weights[cell], dtype=float)  # (edges, ops)
        if values.shape != (len(EDGES), len(primitives)):
            raise ValueError(f"{cell} weights must have shape ({len(EDGES)}, {len(primitives)}), got {values.shape}")
        image = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 0.6 else "white")
        ax.set_xticks(range(len(primitives)), primitives, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(EDGES)), edge_names(), fontsize=8)
        ax.set_title(f"{cell} cell")
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    fig.suptitle(f"{activation} weights")
    return _save(fig, path)


def near_binary_fraction(weights: Mapping[str, Any], margin: float = 0.1) -> float:
    """Fraction of all weights of all cells within `margin` of 0 or 1."""
    values = _all_weights(weights)
    return float(np.mean(np.minimum(values, 1 - values) <= margin)) if values.size else 0.0


def plot_weight_histogram(weights: Mapping[str, Any], path: str | Path, activation: str) -> Path:
    """Histogram of the final weights of both cells; for sigmoid, how many sit near 0 or 1."""
    fig = _figure((6.0, 4.0))
    ax = fig.subplots()
    cells = [cell for cell in CELLS if cell in weights] or list(weights)
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
    return _save(fig, path)


# ----- training curves and tables ------------------------------------------------------------
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
    fig = _figure((6.5, 4.0))
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
    return _save(fig, path)


def plot_skip_counts(frame: pd.DataFrame, path: str | Path) -> Path:
    """Skip connections in the normal and reduce cell per epoch; per label, mean with a std band."""
    return plot_epoch_bands(frame, ("skip_normal", "skip_reduce"), path, "skip connections in the cell",
                            prefix="skip_")


def plot_accuracy_vs_flops(frame: pd.DataFrame, path: str | Path, x: str = "flops_m", y: str = "accuracy",
                           label: str | None = "model") -> Path:
    """Scatter of y against x with one text label per point; error bars from a y+'_std' column."""
    _require(frame, [x, y] + ([label] if label else []))
    fig = _figure((6.5, 4.5))
    ax = fig.subplots()
    yerr = frame[f"{y}_std"] if f"{y}_std" in frame else None
    ax.errorbar(frame[x], frame[y], yerr=yerr, fmt="o", capsize=3)
    if label:
        for _, row in frame.iterrows():
            ax.annotate(str(row[label]), (row[x], row[y]), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_bar_with_error(frame: pd.DataFrame, path: str | Path, x: str, y: str, yerr: str | None = None,
                        title: str | None = None) -> Path:
    """Bar chart of y per x with optional error bars from the yerr column."""
    _require(frame, [x, y] + ([yerr] if yerr else []))
    fig = _figure((max(4.0, 0.8 * len(frame) + 1.5), 4.0))
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
    return _save(fig, path)


# ----- helpers -------------------------------------------------------------------------------
def _figure(size: tuple[float, float], layout: str | None = None) -> Figure:
    """A figure on its own Agg canvas, outside pyplot."""
    fig = Figure(figsize=size, dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    """Write the figure as PNG, creating parent folders, and release its artists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    fig.clear()  # not registered with pyplot, so clearing is all the closing there is
    return path


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise a ValueError naming the missing columns and the ones available."""
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}; available: {', '.join(map(str, frame.columns))}")


def _all_weights(weights: Mapping[str, Any]) -> np.ndarray:
    """Every weight of every cell as one flat array."""
    return np.concatenate([np.asarray(w, dtype=float).ravel() for w in weights.values()]) if weights else np.array([])


def _op_linestyle(op: str, primitives: Sequence[str]) -> str:
    """Tell apart ops of one colour family (max vs avg pool, 3x3 vs 5x5) by line style."""
    family = [p for p in primitives if op_family(p) == op_family(op)]
    return ("-", "--", ":", "-.")[family.index(op) % 4]
