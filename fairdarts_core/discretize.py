"""Parse methods of the DARTS-cell spaces: activated weights (edges x ops) -> Genotype.

Rows are edges in node order (node 2 from 0,1; node 3 from 0,1,2; ...). Ties resolve as in the
official code (FairDARTS `utils.parse`, quark0/darts `genotype()`): edges are ranked by a stable
sort on the negated strength, so the lower edge index wins; the best op is the first maximum, so
the lower op index wins; `threshold_edge` sorts an edge's ops ascending and takes the last two, so
the higher op index wins there, and the kept ops are listed weaker first. 'none' is never chosen,
nor an op the edge does not hold (`masks`: P-DARTS stages, the R-DARTS S1 space).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .genotype import Edge, Genotype, GenotypeError

DEFAULT_THRESHOLD = 0.85
PARSE_METHODS: tuple[str, ...] = ("darts", "threshold_sparse", "threshold_edge")
NUM_INPUTS = 2


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


def node_rows(n_edges: int) -> list[tuple[int, int]]:
    """(to_node, first_row) per node for a DARTS-cell matrix of n_edges rows."""
    rows, start, node = [], 0, NUM_INPUTS
    while start < n_edges:
        rows.append((node, start))
        start += node
        node += 1
    if start != n_edges:
        raise GenotypeError(f"{n_edges} edge rows do not fill whole nodes (14 for 4 nodes)")
    return rows


def _best_op(row: np.ndarray, usable: list[int]) -> int:
    """The first usable op of largest weight (ties: the lower index)."""
    return max(usable, key=lambda k: row[k])


def _top_two_ops(row: np.ndarray, usable: list[int]) -> list[int]:
    """The two usable ops of largest weight, weaker first, as the official `threshold_edge`:
    a stable ascending sort, the last two (ties: the higher index)."""
    return sorted(usable, key=lambda k: row[k])[-2:]


def _strongest_edges(block: np.ndarray, usable: list[list[int]], k: int = 2) -> list[int]:
    """The k incoming edges whose best usable op weighs most (DARTS rule); edges with no usable op last."""
    def strength(j: int) -> float:
        return max((block[j][o] for o in usable[j]), default=-np.inf)
    return sorted(range(block.shape[0]), key=lambda j: -strength(j))[:k]


def parse_cell(matrix: np.ndarray, primitives: Sequence[str], method: str, threshold: float,
               mask: np.ndarray | None = None) -> list[Edge]:
    """The edges of one DARTS cell parsed from its (edges, ops) weights."""
    usable_ops = [k for k, op in enumerate(primitives) if op != "none"]
    if not usable_ops:
        raise GenotypeError("primitives hold no op but 'none'")
    edges: list[Edge] = []
    for node, start in node_rows(matrix.shape[0]):
        block = matrix[start:start + node]
        usable = [[k for k in usable_ops if mask is None or mask[start + j, k]] for j in range(node)]
        if method == "threshold_edge":
            for src in range(node):
                for k in _top_two_ops(block[src], usable[src]):
                    if block[src][k] >= threshold:
                        edges.append((primitives[k], node, src))
            continue
        for src in _strongest_edges(block, usable):
            if not usable[src]:
                continue
            best = _best_op(block[src], usable[src])
            if method == "darts" or block[src][best] >= threshold:
                edges.append((primitives[best], node, src))
    return edges


def parse_cells(weights: Mapping[str, Any], method: str, threshold: float, primitives: Sequence[str],
                masks: Mapping[str, np.ndarray] | None = None) -> Genotype:
    """Parse the normal and reduce weights of a DARTS-cell space."""
    if method not in PARSE_METHODS:
        raise GenotypeError(f"unknown parse method {method!r}; valid: {', '.join(PARSE_METHODS)}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise GenotypeError(f"threshold must be in [0, 1], got {threshold}")
    primitives = tuple(primitives)
    cells = {}
    for kind in ("normal", "reduce"):
        if kind not in weights:
            raise GenotypeError(f"weights lack the {kind} cell")
        matrix = as_matrix(weights[kind], len(primitives), kind)
        edges = parse_cell(matrix, primitives, method, float(threshold), None if masks is None else masks[kind])
        concat = tuple(range(NUM_INPUTS, NUM_INPUTS + len(node_rows(matrix.shape[0]))))
        cells[kind] = (edges, concat)
    return Genotype.of(cells, style="pairs" if method == "darts" else "edges")


def parse_genotype(normal_weights: Any, reduce_weights: Any, method: str = "darts",
                   threshold: float = DEFAULT_THRESHOLD, primitives: Sequence[str] | None = None) -> Genotype:
    """Discretize activated weights of both DARTS cells into a Genotype.

    method: 'darts' (2 strongest edges per node, best op each), 'threshold_sparse' (the same
    edges, each kept only if its op weight >= threshold) or 'threshold_edge' (every edge, up to
    its 2 best ops, each kept if >= threshold). primitives: the weight columns' ops (default: the
    7 ops of the FairDARTS search).
    """
    from .spaces.darts import PRIMITIVES

    return parse_cells({"normal": normal_weights, "reduce": reduce_weights}, method, threshold,
                       PRIMITIVES if primitives is None else primitives)


def genotype_mask(genotype: Genotype, primitives: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """One-hot weights of a DARTS-family genotype in the DARTS space: 1 on kept (edge, op), 0 elsewhere."""
    from .spaces import get_space
    from .spaces.darts import PRIMITIVES

    return get_space("darts").genotype_mask(genotype, PRIMITIVES if primitives is None else primitives)
