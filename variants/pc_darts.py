"""PC-DARTS (Xu et al., ICLR 2020): DARTS with partial channel connections, edge normalization and a
weight-only warm-up (official code: yuhuixu1993/PC-DARTS, model_search.py, train_search.py).

- Partial channels: on every edge the first C/K input channels go through the mixed op (its ops
  built for C/K channels), the other channels bypass it (through MaxPool2d(2, 2) on stride-2 edges);
  the concat is channel-shuffled with K groups, so the op outputs land on channels 0, K, 2K, ...
- Edge normalization: a logit beta per edge, softmax-ed over each node's incoming edges. The node
  sums beta_j * edge_j, so an edge's weight row is softmax(alpha) * beta_j; its sum is beta_j,
  which scales the bypass channels (part of the official edge output as well).
- Arch steps only after round(warmup_fraction * epochs) weight-only epochs (15 of 50; PC-DARTS has one stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from fairdarts_core.mixed_op import MixedOp
from fairdarts_core.variant import Progress, Variant

BETA_PREFIX = "betas_"  # arch entries betas_<cell kind>: one edge-normalization logit per edge


class PartialChannelOp(nn.Module):
    """One PC-DARTS edge: the DARTS MixedOp over the first channels/k channels, the rest bypass it (scaled
    by the edge's weight sum, PC-DARTS' edge normalization, unless scale_bypass is off: DrNAS)."""

    def __init__(self, build, channels: int, stride: int, ops, fast: bool = True, k: int = 4,
                 scale_bypass: bool = True):
        super().__init__()
        if channels % k:
            raise ValueError(f"partial channels: {channels} channels do not split into K={k} groups")
        self.k, self.stride, self.scale_bypass = k, stride, scale_bypass
        self.mixed = MixedOp(build, channels // k, stride, ops, fast)
        self.bypass = nn.MaxPool2d(2, 2) if stride == 2 else nn.Identity()

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if self.stride == 2 and (x.shape[-2] % 2 or x.shape[-1] % 2):
            raise ValueError(f"PC-DARTS needs even sizes at reduction cells (input sizes divisible by 4), got "
                             f"{tuple(x.shape[-2:])}: the ops give ceil(n/2), the bypass MaxPool2d(2, 2) floor(n/2)")
        part = x.shape[1] // self.k
        mixed = self.mixed(x[:, :part], weights)
        if self.k == 1:
            return mixed
        # weights.sum() = beta_j of the edge (softmax(alpha) sums to 1): the node's weight of the whole edge.
        # Without edge normalization (DrNAS) the bypass channels pass unscaled.
        bypass = self.bypass(x[:, part:])
        out = torch.cat([mixed, bypass * weights.sum() if self.scale_bypass else bypass], dim=1)
        return F.channel_shuffle(out, self.k)  # view (B, K, C/K, H, W) -> transpose(1, 2) -> flatten


@dataclass(frozen=True)
class PCDARTS(Variant):
    name = "pc_darts"
    summary = "PC-DARTS (partial channels K=4, edge normalization, arch steps from epoch 15 of 50)"
    activation = "softmax x edge softmax"
    # train_search.py:24-44, architect.py:17-18 (the V100 variant's script ends its cosine at 0.001).
    paper_search = MappingProxyType({
        "epochs": 50, "batch_size": 256, "learning_rate": 0.1, "learning_rate_min": 0.0, "momentum": 0.9,
        "weight_decay": 3e-4, "grad_clip": 5.0, "arch_learning_rate": 6e-4, "arch_beta1": 0.5, "arch_beta2": 0.999,
        "arch_weight_decay": 1e-3, "init_channels": 16, "layers": 8, "train_portion": 0.5, "order": "first"})

    with_none: bool | None = True  # the 'none' op in the DARTS space: PC-DARTS searches DARTS' 8 ops, 'none' included
    partial_k: int = 4  # K: 1/K of each edge's channels go through its ops, the rest bypass them (1: all, no shuffle)
    warmup_fraction: float = 0.3  # share of each stage's epochs without arch steps (official: 15 of 50, one stage)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.partial_k < 1:
            raise ValueError(f"partial_k must be >= 1, got {self.partial_k}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")

    def arch_shapes(self, space, primitives):
        return {**super().arch_shapes(space, primitives),
                **{BETA_PREFIX + kind: (len(space.edges),) for kind in space.cell_kinds}}

    def weights(self, arch, space):
        out = super().weights(arch, space)
        for kind in space.cell_kinds:
            beta = arch[BETA_PREFIX + kind]
            edge = torch.cat([torch.softmax(beta[lo:hi], dim=0) for _, lo, hi in space.node_rows()])
            out[kind] = out[kind] * edge[:, None]
        return out

    def mixed_op(self):
        return partial(PartialChannelOp, k=self.partial_k)

    def arch_step(self, progress: Progress) -> bool:
        return progress.stage_epoch >= round(self.warmup_fraction * progress.stage_epochs)
