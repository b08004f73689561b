"""DARTS- (Chu et al., "DARTS-: Robustly Stepping out of Performance Collapse Without Indicators"):
DARTS V1 plus an auxiliary skip on every edge, out = sum_k w_k op_k(x) + beta * aux(x), whose
weight beta is not learned but decays over the search (linear: 1 at epoch 0, 1/T at the last).

aux is an Identity on stride-1 edges (or a 1x1 conv initialized to the identity) and a
FactorizedReduce(C, C, affine=False) on stride-2 edges, whose weights SGD steps with the others.
As in the official MixedOp, aux is built before the edge's ops: a seed gives other op weights
than in DARTS wherever aux draws random weights (stride-2 edges, conv1). 'skip_connect' stays a
candidate op (Supernet.skip_ops() finds only those, never aux). beta applies in eval mode too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import nn

from fairdarts_core.mixed_op import MixedOp, MixedOpFactory, OpBuilder
from fairdarts_core.ops import FactorizedReduce, Identity
from fairdarts_core.variant import Progress, Variant

from .darts import DARTSV1


class AuxSkipMixedOp(MixedOp):
    """A DARTS mixed op plus the auxiliary skip `aux` (its output scaled by the variant's hooks)."""

    def __init__(self, build: OpBuilder, channels: int, stride: int, ops: Sequence[tuple[int, str]],
                 fast: bool = True, conv1: bool = False):
        if stride == 2:
            aux = FactorizedReduce(channels, channels, affine=False)
        elif conv1:
            aux = nn.Conv2d(channels, channels, 1, bias=False)
            with torch.no_grad():
                aux.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
        else:
            aux = Identity()
        super().__init__(build, channels, stride, ops, fast)
        self.aux = aux

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return super().forward(x, weights) + self.aux(x)


@dataclass(frozen=True)
class DARTSMinus(Variant):
    name = "darts_minus"
    summary = "DARTS- (DARTS V1 with an auxiliary skip on every edge, its weight beta decaying)"
    paper_search = DARTSV1.paper_search  # the DARTS settings, first order (official args.py)

    with_none: bool | None = True  # the 'none' op in the DARTS space: DARTS- searches the 8 DARTS ops, 'none' included
    skip_beta: float = 1.0  # b: the auxiliary skip's weight beta at epoch 0 (official --skip_beta)
    decay: Literal["linear", "cosine", "slow_cosine", "none"] = "linear"  # beta in epoch e of T: linear b(T-e)/T, cosine b(1+cos(pi e/T))/2, slow_cosine b cos(pi e/2T), none b
    aux_op: Literal["skip", "conv1"] = "skip"  # aux on stride-1 edges: identity, or a 1x1 conv initialized to the identity

    def beta(self, epoch: int, epochs: int) -> float:
        """The weight of the auxiliary skip in epoch `epoch` (from 0) of `epochs`."""
        if self.decay == "linear":  # official utils.py DecayScheduler, T_start 0, T_max = epochs
            return self.skip_beta * (epochs - epoch) / epochs
        if self.decay == "cosine":
            return self.skip_beta * (1 + math.cos(math.pi * epoch / epochs)) / 2.0
        if self.decay == "slow_cosine":
            return self.skip_beta * math.cos((math.pi / 2) * epoch / epochs)
        return self.skip_beta

    def mixed_op(self) -> MixedOpFactory:
        return partial(AuxSkipMixedOp, conv1=self.aux_op == "conv1")

    def hooks(self, net: nn.Module, progress: Progress) -> list:
        beta = self.beta(progress.epoch, progress.epochs)
        if beta == 1.0:  # aux(x) as it is: no hooks
            return []
        return [m.aux.register_forward_hook(lambda mod, inputs, out: out * beta)
                for m in net.modules() if isinstance(m, AuxSkipMixedOp)]
