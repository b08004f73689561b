"""Parse methods: turn activated weights (edges x ops) into a Genotype.

Rows are edges in node order (node 2 from 0,1; node 3 from 0,1,2; ...). Ties go to the lower
edge index and the lower op index, as Python's stable sort does in the official code. 'none' is
never chosen by any method.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .genotype import Edge, Genotype, GenotypeError
from .space import NUM_INPUTS, PRIMITIVES

DEFAULT_THRESHOLD = 0.85


def as_matrix(weights: Any, n_ops: int, name: str) -> np.ndarray:
    """Array-like (lists, NumPy, tensor) -> float64 (edges, n_ops) with a clear error on a bad shape."""
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    try:
        matrix = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise GenotypeError(f"{name} weights must be a numeric matrix") from None
    if matrix.ndim != 2 or matrix.shape[1] != n_ops:
        raise GenotypeError(f"{name} weights must have shape (edges, {n_ops}), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise GenotypeError(f"{name} weights contain NaN or infinity")
    return matrix


def _node_rows(n_edges: int) -> list[tuple[int, int]]:
    """(to_node, first_row) per node for a matrix of n_edges rows."""
    rows, start, node = [], 0, NUM_INPUTS
    while start < n_edges:
        rows.append((node, start))
        start += node
        node += 1
    if start != n_edges:
        raise GenotypeError(f"{n_edges} edge rows do not fill whole nodes (14 for 4 nodes)")
    return rows


def _ranked_ops(row: np.ndarray, usable: list[int]) -> list[int]:
    """Usable op indices by weight, best first; ties keep the lower index first."""
    return sorted(usable, key=lambda k: -row[k])


def _strongest_edges(block: np.ndarray, usable: list[int], k: int = 2) -> list[int]:
    """The k incoming edges whose best usable op weighs most (DARTS rule)."""
    return sorted(range(block.shape[0]), key=lambda j: -max(block[j][o] for o in usable))[:k]


def _parse_cell(matrix: np.ndarray, primitives: Sequence[str], method: str, threshold: float) -> list[Edge]:
    usable = [k for k, op in enumerate(primitives) if op != "none"]
    if not usable:
        raise GenotypeError("primitives hold no op but 'none'")
    edges: list[Edge] = []
    for node, start in _node_rows(matrix.shape[0]):
        block = matrix[start:start + node]
        if method == "threshold_edge":
            for src in range(node):
                for k in _ranked_ops(block[src], usable)[:2]:
                    if block[src][k] >= threshold:
                        edges.append((primitives[k], node, src))
            continue
        for src in _strongest_edges(block, usable):
            best = _ranked_ops(block[src], usable)[0]
            if method == "darts" or block[src][best] >= threshold:
                edges.append((primitives[best], node, src))
    return edges


PARSE_METHODS: tuple[str, ...] = ("darts", "threshold_sparse", "threshold_edge")


def parse_genotype(normal_weights: Any, reduce_weights: Any, method: str = "darts",
                   threshold: float = DEFAULT_THRESHOLD, primitives: Sequence[str] = PRIMITIVES) -> Genotype:
    """Discretize activated weights of both cells into a Genotype.

    method: 'darts' (2 strongest edges per node, best op each), 'threshold_sparse' (the same
    edges, each kept only if its op weight >= threshold) or 'threshold_edge' (every edge, up to
    its 2 best ops, each kept if >= threshold).
    """
    if method not in PARSE_METHODS:
        raise GenotypeError(f"unknown parse method {method!r}; valid: {', '.join(PARSE_METHODS)}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise GenotypeError(f"threshold must be in [0, 1], got {threshold}")
    primitives = tuple(primitives)
    cells = {}
    concat = {}
    for name, weights in (("normal", normal_weights), ("reduce", reduce_weights)):
        matrix = as_matrix(weights, len(primitives), name)
        cells[name] = _parse_cell(matrix, primitives, method, float(threshold))
        concat[name] = tuple(range(NUM_INPUTS, NUM_INPUTS + len(_node_rows(matrix.shape[0]))))
    return Genotype(tuple(cells["normal"]), concat["normal"], tuple(cells["reduce"]), concat["reduce"],
                    style="pairs" if method == "darts" else "edges")



def genotype_mask(genotype: Genotype, primitives: Sequence[str] = PRIMITIVES) -> dict[str, np.ndarray]:
    """One-hot weights of a genotype in the search space: 1 on kept (edge, op), 0 elsewhere."""
    from .space import EDGES

    index = {edge: i for i, edge in enumerate(EDGES)}
    masks = {}
    for name in ("normal", "reduce"):
        mask = np.zeros((len(EDGES), len(primitives)))
        for op, dst, src in genotype.cell(name)[0]:
            if (src, dst) not in index or op not in primitives:
                raise GenotypeError(f"{name}: edge ({op}, {dst}, {src}) is not in the search space")
            mask[index[(src, dst)], list(primitives).index(op)] = 1.0
        masks[name] = mask
    return masks
