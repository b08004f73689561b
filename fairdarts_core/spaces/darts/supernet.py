"""The DARTS search network: 8 cells of C=16 (in the paper) over the DARTS cell, every edge a mixed op
built by the variant's factory, reductions at 1/3 and 2/3 depth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ...families.darts import CELL_KINDS, EDGES, NUM_EDGES, NUM_INPUTS, NUM_NODES
from ...mixed_op import MixedOpFactory, OpBuilder
from ...mixed_op import mixed_op as default_mixed_op
from ...ops import FactorizedReduce, ReLUConvBN, build_op
from ...supernet import Supernet


class SearchCell(nn.Module):
    """One search cell: its two inputs preprocessed, a mixed op on each of the 14 edges, node i the sum of
    its edges, the output the concat of the 4 intermediate nodes."""

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
