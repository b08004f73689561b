"""Parse methods of the DARTS-cell spaces: activated weights (edges x ops) -> Genotype.

Rows are edges in node order (node 2 from 0,1; node 3 from 0,1,2; ...). Ties resolve as in the
official code (FairDARTS `utils.parse`, quark0/darts `genotype()`): edges are ranked by a stable
sort on the negated strength, so the lower edge index wins; the best op is the first maximum, so
the lower op index wins; `threshold_edge` sorts an edge's ops ascending and takes the last two, so
the higher op index wins there, and the kept ops are listed weaker first. 'none' is never chosen,
nor an op the edge does not hold (`masks`: P-DARTS stages, the R-DARTS S1 space).

A method is a function (weights, threshold, primitives, masks) -> Genotype and its line in
PARSE_METHODS; the first line of its docstring is its --help text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ...families.darts import CELL_KINDS, NUM_INPUTS, PRIMITIVES
from ...genotype import Edge, Genotype, GenotypeError
from ..base import ParseRule, as_matrix

DEFAULT_THRESHOLD = 0.85

# What a method keeps of one node: (the node's (incoming edges, ops) weights, the usable op columns of
# each incoming edge, threshold) -> the kept (incoming edge, op column) pairs, in genotype order.
NodeRule = Callable[[np.ndarray, list[list[int]], float], list[tuple[int, int]]]


def parse_darts(weights: Mapping[str, Any], threshold: float, primitives: Sequence[str],
                masks: Mapping[str, np.ndarray] | None = None) -> Genotype:
    """2 strongest edges per node, the best op of each."""
    return parse_cells(weights, threshold, primitives, masks, _strongest, style="pairs")


def parse_threshold_sparse(weights: Mapping[str, Any], threshold: float, primitives: Sequence[str],
                           masks: Mapping[str, np.ndarray] | None = None) -> Genotype:
    """The darts edges, each kept if its op weighs >= threshold."""
    def rule(block: np.ndarray, usable: list[list[int]], threshold: float) -> list[tuple[int, int]]:
        return [(src, k) for src, k in _strongest(block, usable, threshold) if block[src][k] >= threshold]
    return parse_cells(weights, threshold, primitives, masks, rule)


def parse_threshold_edge(weights: Mapping[str, Any], threshold: float, primitives: Sequence[str],
                         masks: Mapping[str, np.ndarray] | None = None) -> Genotype:
    """Every edge, up to its 2 best ops, each kept if >= threshold."""
    def rule(block: np.ndarray, usable: list[list[int]], threshold: float) -> list[tuple[int, int]]:
        return [(src, k) for src in range(block.shape[0]) for k in _top_two_ops(block[src], usable[src])
                if block[src][k] >= threshold]
    return parse_cells(weights, threshold, primitives, masks, rule)


PARSE_METHODS: dict[str, ParseRule] = {
    "darts": parse_darts,
    "threshold_sparse": parse_threshold_sparse,
    "threshold_edge": parse_threshold_edge,
}


def parse_genotype(normal_weights: Any, reduce_weights: Any, method: str = "darts",
                   threshold: float = DEFAULT_THRESHOLD, primitives: Sequence[str] | None = None) -> Genotype:
    """Discretize activated weights of both DARTS cells into a Genotype with the method of PARSE_METHODS
    named `method`; primitives: the weight columns' ops (default: the 7 ops of the FairDARTS search)."""
    if method not in PARSE_METHODS:
        raise GenotypeError(f"unknown parse method {method!r}; valid: {', '.join(PARSE_METHODS)}")
    return PARSE_METHODS[method]({"normal": normal_weights, "reduce": reduce_weights}, threshold,
                                 PRIMITIVES if primitives is None else primitives)


def parse_cells(weights: Mapping[str, Any], threshold: float, primitives: Sequence[str],
                masks: Mapping[str, np.ndarray] | None, rule: NodeRule, style: str = "edges") -> Genotype:
    """The normal and reduce cells parsed node by node with `rule`, as a genotype of `style`."""
    if not 0.0 <= float(threshold) <= 1.0:
        raise GenotypeError(f"threshold must be in [0, 1], got {threshold}")
    primitives = tuple(primitives)
    cells = {}
    for kind in CELL_KINDS:
        if kind not in weights:
            raise GenotypeError(f"weights lack the {kind} cell")
        matrix = as_matrix(weights[kind], len(primitives), kind)
        mask = None if masks is None else masks[kind]
        edges = _parse_cell(matrix, primitives, rule, float(threshold), mask)
        concat = tuple(range(NUM_INPUTS, NUM_INPUTS + len(_node_rows(matrix.shape[0]))))
        cells[kind] = (edges, concat)
    return Genotype.of(cells, style=style)


def _parse_cell(matrix: np.ndarray, primitives: tuple[str, ...], rule: NodeRule, threshold: float,
                mask: np.ndarray | None) -> list[Edge]:
    """The edges of one cell: `rule` applied to each node's incoming edges and their usable ops."""
    usable_ops = [k for k, op in enumerate(primitives) if op != "none"]
    if not usable_ops:
        raise GenotypeError("primitives hold no op but 'none'")
    edges: list[Edge] = []
    for node, start in _node_rows(matrix.shape[0]):
        block = matrix[start:start + node]
        usable = [[k for k in usable_ops if mask is None or mask[start + j, k]] for j in range(node)]
        edges.extend((primitives[k], node, src) for src, k in rule(block, usable, threshold))
    return edges


def _node_rows(n_edges: int) -> list[tuple[int, int]]:
    """(to_node, first_row) per node for a DARTS-cell matrix of n_edges rows."""
    rows, start, node = [], 0, NUM_INPUTS
    while start < n_edges:
        rows.append((node, start))
        start += node
        node += 1
    if start != n_edges:
        raise GenotypeError(f"{n_edges} edge rows do not fill whole nodes (14 for 4 nodes)")
    return rows


def _strongest(block: np.ndarray, usable: list[list[int]], threshold: float) -> list[tuple[int, int]]:
    """The DARTS rule: the 2 incoming edges whose best usable op weighs most, each with that op."""
    return [(src, _best_op(block[src], usable[src])) for src in _strongest_edges(block, usable) if usable[src]]


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
