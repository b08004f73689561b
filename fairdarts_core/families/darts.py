"""The DARTS genotype family: cells normal and reduce of intermediate nodes over 2 inputs, their op
names, and the official `Genotype(normal=[...], normal_concat=..., ...)` repr in both tuple forms
((op, from) pairs, two per node, or (op, to, from) edges), read from a syntax tree of literals only,
never evaluated. The DARTS space and the R-DARTS spaces build networks of this family.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from ..genotype import MAX_NODE, Edge, Genotype, GenotypeError, check_edges
from .base import GenotypeFamily

# The FairDARTS op set, in the order of the official FairDARTS code.
PRIMITIVES: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
# The original DARTS op set: 'none' first, then the seven above.
DARTS_PRIMITIVES: tuple[str, ...] = ("none",) + PRIMITIVES
# Ops that appear only in published genotypes of other methods (NASNet, AmoebaNet, ENAS) and the
# R-DARTS S4 space's noise op.
EXTRA_OPS: tuple[str, ...] = ("sep_conv_7x7", "conv_7x1_1x7", "noise")
ALL_OPS: tuple[str, ...] = DARTS_PRIMITIVES + EXTRA_OPS
NUM_INPUTS = 2
NUM_NODES = 4
CELL_KINDS = ("normal", "reduce")
EDGES: tuple[tuple[int, int], ...] = tuple((src, dst) for dst in range(2, 6) for src in range(dst))
NUM_EDGES = len(EDGES)
PARAMETER_FREE = ("none", "skip_connect", "max_pool_3x3", "avg_pool_3x3")


class DartsFamily(GenotypeFamily):
    name = "darts"

    def validate(self, genotype: Genotype) -> None:
        if genotype.kinds != CELL_KINDS:
            raise GenotypeError(f"a DARTS genotype has the cells normal and reduce, got {', '.join(genotype.kinds)}")
        for kind, edges, concat in genotype.cells:
            _validate_cell(kind, edges, concat, pairs=genotype.style == "pairs")

    def to_dict(self, genotype: Genotype) -> dict[str, Any]:
        return {
            "normal": [list(e) for e in genotype.normal],
            "normal_concat": list(genotype.normal_concat),
            "reduce": [list(e) for e in genotype.reduce],
            "reduce_concat": list(genotype.reduce_concat),
            "style": genotype.style,
        }

    def from_dict(self, data: Mapping[str, Any]) -> Genotype:
        keys = {"normal", "normal_concat", "reduce", "reduce_concat"}
        missing = keys - set(data)
        unknown = set(data) - keys - {"style", "family"}
        if missing:
            raise GenotypeError(f"genotype is missing {', '.join(sorted(missing))}")
        if unknown:
            raise GenotypeError(f"genotype has unknown keys {', '.join(sorted(unknown))}")
        cells, styles = {}, set()
        for kind in CELL_KINDS:
            raw = data[kind]
            if not isinstance(raw, (list, tuple)):
                raise GenotypeError(f"{kind} must be a list of edges, got {type(raw).__name__}")
            concat = data[f"{kind}_concat"]
            if not isinstance(concat, (list, tuple, range)):
                raise GenotypeError(f"{kind}_concat must be a list of node indices, got {type(concat).__name__}")
            lengths = {len(e) if isinstance(e, (list, tuple)) else -1 for e in raw}
            if lengths == {2}:
                cells[kind] = (_pairs_to_edges(list(raw), kind), tuple(concat))
                styles.add("pairs")
            elif lengths <= {3}:
                cells[kind] = (tuple(raw), tuple(concat))
                styles.add("edges")
            else:
                raise GenotypeError(f"{kind} edges must all be (op, from) pairs or (op, to, from) triples")
        style = data.get("style") or ("pairs" if styles == {"pairs"} else "edges")
        return Genotype.of(cells, style=style)

    def reads(self, text: str) -> bool:
        return not text.startswith("|")  # anything but an NB201 string is read as a Genotype(...) repr

    def to_text(self, genotype: Genotype) -> str:
        def cell(edges: tuple[Edge, ...]) -> str:
            if genotype.style == "pairs":
                return "[" + ", ".join(f"({op!r}, {src})" for op, _, src in edges) + "]"
            return "[" + ", ".join(f"({op!r}, {dst}, {src})" for op, dst, src in edges) + "]"
        return (f"Genotype(normal={cell(genotype.normal)}, normal_concat={list(genotype.normal_concat)}, "
                f"reduce={cell(genotype.reduce)}, reduce_concat={list(genotype.reduce_concat)})")

    def from_text(self, text: str) -> Genotype:
        return self.from_dict(_parse_repr(text))


def _pairs_to_edges(pairs: list, cell: str) -> tuple[Edge, ...]:
    if len(pairs) % 2:
        raise GenotypeError(f"{cell}: the DARTS (op, from_node) form needs two pairs per node, got {len(pairs)}")
    edges = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise GenotypeError(f"{cell}: expected an (op, from_node) pair, got {pair!r}")
        edges.append((pair[0], NUM_INPUTS + i // 2, pair[1]))
    return tuple(edges)


def _validate_cell(name: str, edges: tuple[Edge, ...], concat: tuple[int, ...], pairs: bool) -> None:
    """The cell's nodes are the inputs 0, 1 and the intermediate nodes 2..last: in the pair form
    one node per two pairs, in the edge form up to the last node of the concat (the official
    FairDARTS parse writes range(2, 6)). An edge or a concat entry outside them is an error."""
    if not concat:
        raise GenotypeError(f"{name}_concat is empty")
    for node in concat:
        if not NUM_INPUTS <= node <= MAX_NODE:
            raise GenotypeError(f"{name}_concat: node {node} out of range {NUM_INPUTS}..{MAX_NODE}")
    if len(set(concat)) != len(concat):
        raise GenotypeError(f"{name}_concat lists a node twice: {list(concat)}")
    last = NUM_INPUTS + len(edges) // 2 - 1 if pairs else max(concat)
    if last > MAX_NODE:
        raise GenotypeError(f"{name}: the cell has nodes {NUM_INPUTS}..{last}, more than the {MAX_NODE - 1} "
                            f"intermediate nodes accepted")
    outside = [node for node in concat if node > last]
    if outside:
        raise GenotypeError(f"{name}_concat names node {outside[0]}, but the cell has nodes "
                            f"{NUM_INPUTS}..{last} ({len(edges) // 2} nodes of two pairs each)")
    check_edges(name, edges, ALL_OPS, NUM_INPUTS, last, duplicates=pairs)


def _literal(node: ast.AST) -> Any:
    """Lists, tuples, str and int constants, and range(a, b): nothing else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
            and not node.keywords and 1 <= len(node.args) <= 2:
        bounds = [_literal(a) for a in node.args]
        if all(type(b) is int for b in bounds) and all(0 <= b <= MAX_NODE + 1 for b in bounds):
            return list(range(*bounds))
    raise GenotypeError(f"genotype string may only hold lists, tuples, strings, integers and range(a, b); "
                        f"found {ast.dump(node)[:60]}")


def _parse_repr(text: str) -> dict[str, Any]:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise GenotypeError(f"not a Genotype(...) string: {err.__class__.__name__}") from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Genotype"):
        raise GenotypeError("not a Genotype(...) string: it must be a single call to Genotype")
    fields = ["normal", "normal_concat", "reduce", "reduce_concat"]
    if len(call.args) > len(fields):
        raise GenotypeError("Genotype(...) takes at most 4 arguments")
    data = {fields[i]: _literal(arg) for i, arg in enumerate(call.args)}
    for kw in call.keywords:
        if kw.arg is None or kw.arg not in fields:
            raise GenotypeError(f"Genotype(...) has an unknown argument {kw.arg!r}")
        if kw.arg in data:
            raise GenotypeError(f"Genotype(...) gives {kw.arg} twice")
        data[kw.arg] = _literal(kw.value)
    return data


FAMILY = DartsFamily()
