"""Cell drawings: nodes, one labelled arrow per op, ignored nodes and edges greyed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch

from fairdarts_core.genotype import Genotype, computed_nodes, output_nodes

from .canvas import figure, save

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


def num_inputs(genotype: Genotype) -> int:
    from fairdarts_core.spaces import space_of

    return space_of(genotype).num_inputs


def cell_layout(genotype: Genotype, cell: str) -> dict[int, dict[str, Any]]:
    """Node -> {state: input|computed|ignored|output, xy}; the output node c_k takes the next free index."""
    edges, concat = genotype.cell(cell)
    inputs = num_inputs(genotype)
    last = max([dst for _, dst, _ in edges] + list(concat))
    alive = set(computed_nodes(edges, concat, inputs))
    layout = {0: {"state": "input", "xy": (0.0, Y_INPUT if inputs == 2 else 0.0)}}
    if inputs == 2:
        layout[1] = {"state": "input", "xy": (0.0, -Y_INPUT)}
    for node in range(inputs, last + 1):
        y = Y_ZIGZAG if node % 2 == 0 else -Y_ZIGZAG
        layout[node] = {"state": "computed" if node in alive else "ignored", "xy": ((node - 1) * X_STEP, y)}
    layout[last + 1] = {"state": "output", "xy": (last * X_STEP, 0.0)}
    return layout


def node_label(node: int, state: str, inputs: int = 2) -> str:
    """Mathtext name of a node. Two inputs (DARTS cells): c_{k-2}, c_{k-1}, then 0..n for the intermediate
    nodes and c_{k} for the output. One input (NB201): the benchmark's numbers, 0 for the input, 1..n."""
    if inputs == 1:
        return r"$c_{k}$" if state == "output" else str(node)
    if state == "input":
        return r"$c_{k-2}$" if node == 0 else r"$c_{k-1}$"
    if state == "output":
        return r"$c_{k}$"
    return str(node - inputs)


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
    wanted += [(None, node, out) for node in output_nodes(edges, concat, num_inputs(genotype))]
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
    """Draw the cells of a genotype side by side (DARTS: normal and reduce), one labelled arrow per op."""
    cells = {cell: (cell_layout(genotype, cell), cell_arrows(genotype, cell)) for cell in genotype.kinds}
    low, high = _extent(cells.values())
    span = high - low
    fig = figure((len(cells) * span[0] * INCH_PER_UNIT + 0.3, span[1] * INCH_PER_UNIT + 1.0))
    axes = np.atleast_1d(fig.subplots(1, len(cells)))
    inputs = num_inputs(genotype)
    fig.subplots_adjust(left=0.01, right=0.99, wspace=0.02, bottom=0.8 / (span[1] * INCH_PER_UNIT + 1.0),
                        top=1 - 0.55 / (span[1] * INCH_PER_UNIT + 1.0))
    families, any_ignored = set(), False
    for ax, (cell, (layout, arrows)) in zip(axes, cells.items()):
        _draw_cell(ax, layout, arrows, inputs)
        ax.set_xlim(low[0], high[0])
        ax.set_ylim(low[1], high[1])
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"{cell} cell" if cell != "cell" else "cell", fontsize=10)
        families |= {op_family(a["op"]) for a in arrows if a["op"]}
        any_ignored |= any(info["state"] == "ignored" for info in layout.values())
    handles = [Line2D([], [], color=FAMILY_COLOURS[f], lw=2, label=f) for f in FAMILY_COLOURS if f in families]
    if any_ignored:
        handles.append(Line2D([], [], color=IGNORED_COLOUR, lw=2, ls="--", label="ignored"))
    handles.append(Line2D([], [], color="dimgray", lw=1.2, ls=":", label=r"into $c_{k}$"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title if len(title) <= 60 * len(cells) else title[:60 * len(cells) - 3] + "...", fontsize=11)
    return save(fig, path)


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


def _draw_cell(ax, layout: Mapping[int, Mapping[str, Any]], arrows: Sequence[Mapping[str, Any]],
               inputs: int = 2) -> None:
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
        ax.text(*info["xy"], node_label(node, state, inputs), ha="center", va="center", zorder=4, fontsize=9,
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
