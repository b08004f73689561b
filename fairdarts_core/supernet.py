"""The search supernet: mixed ops over all candidate ops on the 14 edges of every cell.

It takes *already activated* weights {"normal": (14, n_ops), "reduce": (14, n_ops)} and knows
nothing of variants. Alphas are registered parameters, so they are saved in the state_dict and
moved by `.to()`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .ops import FactorizedReduce, Identity, ReLUConvBN, after_leading_relu, build_op, run_tail
from .space import EDGES, NUM_INPUTS, NUM_NODES, PRIMITIVES

CELL_TYPES = ("normal", "reduce")


class MixedOp(nn.Module):
    """All candidate ops of one edge, summed with their weights.

    Fast path (default): the conv branches share one ReLU of the input (each op's own ReLU is
    skipped), inner ReLUs and the weighted sum work in place, and ops with weight exactly 0 still
    run so gradients reach every alpha.
    """

    def __init__(self, c: int, stride: int, primitives: Sequence[str], fast: bool = True):
        super().__init__()
        self.fast = fast
        self.ops = nn.ModuleList()
        self.tails = []  # per op: its modules after a leading ReLU (shared by the fast path), or None
        for name in primitives:
            op = build_op(name, c, stride, affine=False)
            if "pool" in name:
                op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
            self.ops.append(op)
            self.tails.append(after_leading_relu(op))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:  # weights: (n_ops,)
        if not self.fast:
            return sum(w * op(x) for w, op in zip(weights, self.ops))
        relu_x = torch.relu(x) if any(t is not None for t in self.tails) else None
        total = None
        for i, (op, tail) in enumerate(zip(self.ops, self.tails)):
            out = op(x) if tail is None else run_tail(relu_x, tail)
            # total is a fresh product no backward keeps, so the sum can grow in place.
            total = out * weights[i] if total is None else total.addcmul_(out, weights[i])
        return total


class SearchCell(nn.Module):
    def __init__(self, c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool,
                 primitives: Sequence[str], fast: bool = True):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(c_prev_prev, c, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, affine=False)
        self.ops = nn.ModuleList(
            MixedOp(c, 2 if reduction and src < NUM_INPUTS else 1, primitives, fast) for src, dst in EDGES
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(NUM_INPUTS, NUM_INPUTS + NUM_NODES):
            total = None
            for e, (src, dst) in enumerate(EDGES):
                if dst == node:
                    out = self.ops[e](states[src], weights[e])
                    total = out if total is None else total + out
            states.append(total)
        return torch.cat(states[NUM_INPUTS:], dim=1)


class SearchNetwork(nn.Module):
    """The DARTS search network: 8 cells, C=16, stem x3, reductions at 1/3 and 2/3 depth."""

    def __init__(self, init_channels: int = 16, num_classes: int = 10, layers: int = 8,
                 primitives: Sequence[str] = PRIMITIVES, stem_multiplier: int = 3, fast: bool = True):
        super().__init__()
        self.primitives = tuple(primitives)
        c_stem = stem_multiplier * init_channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        c_prev_prev, c_prev, c = c_stem, c_stem, init_channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
            self.cells.append(SearchCell(c_prev_prev, c_prev, c, reduction, reduction_prev, self.primitives, fast))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, NUM_NODES * c
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        n_ops = len(self.primitives)
        # (edges, ops); zeros here, the variant sets its own init.
        self.alphas_normal = nn.Parameter(torch.zeros(len(EDGES), n_ops))
        self.alphas_reduce = nn.Parameter(torch.zeros(len(EDGES), n_ops))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alphas_normal, self.alphas_reduce]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def alphas(self) -> dict[str, nn.Parameter]:
        return {"normal": self.alphas_normal, "reduce": self.alphas_reduce}

    def skip_ops(self) -> list[Identity]:
        """The stride-1 skip connections (Identity modules) of every mixed op, for output hooks."""
        return [m for m in self.modules() if isinstance(m, Identity)]

    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor]) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            w = weights["reduce" if cell.reduction else "normal"]
            s0, s1 = s1, cell(s0, s1, w)
        return self.classifier(self.global_pooling(s1).flatten(1))
