"""The mixed operation of one supernet edge, and the factory type a variant may swap.

A mixed op holds the candidate ops of its edge and sums their outputs weighted by that edge's row
of activated weights. Rows are laid out over the space's whole op set, so an edge that holds only
some ops (a P-DARTS stage, the R-DARTS S1 space) reads its ops' columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import torch
from torch import nn

from .ops import Zero, after_leading_relu, run_tail

# (op name, channels, stride) -> the search-time module of that op in this space
OpBuilder = Callable[[str, int, int], nn.Module]


class MixedOpFactory(Protocol):
    def __call__(self, build: OpBuilder, channels: int, stride: int, ops: Sequence[tuple[int, str]],
                 fast: bool) -> nn.Module: ...


class MixedOp(nn.Module):
    """All candidate ops of one edge, summed with their weights.

    `ops` lists (column in the weight row, op name). Fast path (default): the conv branches share
    one ReLU of the input (each op's own ReLU is skipped), inner ReLUs and the weighted sum work in
    place, and 'none' (zeros, whose weight's gradient is 0 either way) is skipped. Ops with weight
    exactly 0 still run, so gradients reach every weight. (Folding the weight into an op's last
    BatchNorm as its scale measured 10% slower than the separate multiply.)
    """

    def __init__(self, build: OpBuilder, channels: int, stride: int, ops: Sequence[tuple[int, str]],
                 fast: bool = True):
        super().__init__()
        self.fast = fast
        self.stride = stride
        self.columns = tuple(col for col, _ in ops)
        self.op_names = tuple(name for _, name in ops)
        self.ops = nn.ModuleList(build(name, channels, stride) for name in self.op_names)
        self.tails = [after_leading_relu(op) for op in self.ops]  # shared-ReLU fast path, or None
        self.shares_relu = any(t is not None for t in self.tails)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:  # weights: (space ops,)
        if not self.fast:
            return sum(weights[col] * op(x) for col, op in zip(self.columns, self.ops))
        relu_x = torch.relu(x) if self.shares_relu else None
        total = None
        for col, op, tail in zip(self.columns, self.ops, self.tails):
            if isinstance(op, Zero):
                continue
            out = op(x) if tail is None else run_tail(relu_x, tail)
            # total is a fresh product no backward keeps, so the sum can grow in place.
            total = out * weights[col] if total is None else total.addcmul_(out, weights[col])
        if total is None:  # every op was 'none'
            return x.mul(0.0) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.0)
        return total


def mixed_op(build: OpBuilder, channels: int, stride: int, ops: Sequence[tuple[int, str]],
             fast: bool = True) -> MixedOp:
    """The default factory: every op on every channel (DARTS)."""
    return MixedOp(build, channels, stride, ops, fast)
