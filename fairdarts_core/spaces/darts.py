"""The DARTS cell space: normal and reduction cells of 4 nodes over 2 inputs, 14 edges, output the
concat of the intermediate nodes; the 8-cell C=16 supernet and the C=36 20-cell CIFAR network.

Also the DARTS genotype family: the official `Genotype(normal=[...], normal_concat=..., ...)`
repr in both tuple forms ((op, from) pairs, two per node, or (op, to, from) edges), read from a
syntax tree of literals only, never evaluated.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..discretize import PARSE_METHODS, parse_cells
from ..genotype import MAX_NODE, Edge, Genotype, GenotypeError, check_edges
from ..mixed_op import MixedOpFactory, OpBuilder
from ..ops import FactorizedReduce, ReLUConvBN, build_op
from ..supernet import Supernet
from .base import GenotypeFamily, SearchSpace

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


# ----- genotype family --------------------------------------------------------------------------
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


# ----- supernet ----------------------------------------------------------------------------------
class SearchCell(nn.Module):
    def __init__(self, c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool,
                 ops: Sequence[Sequence[tuple[int, str]]], build: OpBuilder, mixed_op: MixedOpFactory,
                 fast: bool = True):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(c_prev_prev, c, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, affine=False)
        self.ops = nn.ModuleList(
            mixed_op(build, c, 2 if reduction and src < NUM_INPUTS else 1, edge_ops, fast)
            for (src, _), edge_ops in zip(EDGES, ops)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        e = 0
        for node in range(NUM_INPUTS, NUM_INPUTS + NUM_NODES):
            total = None
            for src in range(node):
                out = self.ops[e](states[src], weights[e])
                total = out if total is None else total + out
                e += 1
            states.append(total)
        return torch.cat(states[NUM_INPUTS:], dim=1)


class SearchNetwork(Supernet):
    """The DARTS search network: `layers` cells (8 in the paper), C=16, stem x3, reductions at 1/3 and
    2/3 depth. forward(x, weights) with weights {"normal", "reduce"}: (14, ops)."""

    def __init__(self, primitives: Sequence[str], num_classes: int = 10, init_channels: int = 16, layers: int = 8,
                 op_masks: Mapping[str, np.ndarray] | None = None, build: OpBuilder | None = None,
                 mixed_op: MixedOpFactory | None = None, stem_multiplier: int = 3, fast: bool = True):
        from ..mixed_op import mixed_op as default_mixed_op

        super().__init__(primitives, op_masks)
        build = build or search_op
        mixed_op = mixed_op or default_mixed_op
        ops = {kind: [[(k, op) for k, op in enumerate(self.primitives)
                       if op_masks is None or op_masks[kind][e, k]] for e in range(NUM_EDGES)]
               for kind in CELL_KINDS}
        c_stem = stem_multiplier * init_channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        c_prev_prev, c_prev, c = c_stem, c_stem, init_channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
            kind = "reduce" if reduction else "normal"
            self.cells.append(SearchCell(c_prev_prev, c_prev, c, reduction, reduction_prev, ops[kind], build,
                                         mixed_op, fast))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, NUM_NODES * c
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            w = weights["reduce" if cell.reduction else "normal"]
            s0, s1 = s1, cell(s0, s1, w)
        return self.classifier(self.global_pooling(s1).flatten(1))


def search_op(name: str, channels: int, stride: int) -> nn.Module:
    """A DARTS search-time op: BatchNorm without affine parameters, pooling followed by such a BatchNorm."""
    op = build_op(name, channels, stride, affine=False)
    if "pool" in name:
        op = nn.Sequential(op, nn.BatchNorm2d(channels, affine=False))
    return op


# ----- the space ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DartsCellSpace(SearchSpace):
    """A space over the DARTS cell: the DARTS space itself and the R-DARTS reduced op sets."""

    parse_methods: tuple[str, ...] = PARSE_METHODS

    def supernet(self, primitives, num_classes, init_channels, layers, op_masks, mixed_op, fast=True):
        return SearchNetwork(primitives, num_classes, init_channels, layers, op_masks, self.search_op, mixed_op,
                             fast=fast)

    def search_op(self, name: str, channels: int, stride: int) -> nn.Module:
        return search_op(name, channels, stride)

    def parse(self, weights, method, threshold, primitives, masks=None) -> Genotype:
        self.check_parse_method(method)
        return parse_cells(weights, method, threshold, primitives, masks)

    def evalnet(self, genotype, init_channels, layers, num_classes, auxiliary, fast=True):
        from ..evalnet import NetworkCIFAR

        self.check_genotype(genotype)
        return NetworkCIFAR(genotype, init_channels, layers, num_classes, auxiliary=auxiliary, fast=fast)

    def profile(self, genotype, num_classes=10, init_channels=None, layers=None) -> dict[str, float]:
        from ..metrics import cached_profile, profile_genotype

        self.check_genotype(genotype)
        if num_classes == 10 and init_channels in (None, 36) and layers in (None, 20):
            return cached_profile(genotype)
        return profile_genotype(genotype, init_channels or 36, layers or 20, num_classes)

    def describe_profile(self, profile) -> str:
        return (f"{profile['flops_m']:.1f}M FLOPs (thop multiply-adds, BN removed), {profile['params_m']:.3f}M "
                f"params ({profile['params_with_aux_m']:.3f}M with the auxiliary head)")


DARTS = DartsCellSpace("darts", "the DARTS cell: 4 nodes, 14 edges, 7 ops (8 with 'none')", PRIMITIVES)
