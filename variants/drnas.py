"""DrNAS (Chen et al., "DrNAS: Dirichlet Neural Architecture Search", ICLR 2021): the mixing weights of
every edge are a Dirichlet sample, drawn afresh at every forward of the search, whose concentrations
beta = elu(alpha) + 1 are learned through the pathwise (rsample) gradient. As xiangning-chen/DrNAS@f2caa4d
(utils.py process_step_vector, 201-space/search_model.py, DARTS-space/model_search.py, architect.py).

- The steps train with the sample; the parse, the records and the Hessian read softmax(alpha), what the
  official genotype() and logs read (the Dirichlet mean has the same argmax per edge, not the same ranking
  of edges).
- Regularizer: l2 (the published runs) is the arch Adam's weight decay, 1e-3 (`arch_weight_decay`); kl adds
  reg_scale * sum KL(Dir(beta) || Dir(1)) to the loss (it does not depend on the supernet's weights, so
  only the arch step feels it; the official runs it then with weight decay 0).
- DARTS cell: partial channels with K=6 (unscaled bypass, no edge normalization), the 7 ops without
  'none', 10 weight-only epochs of each 25; NB201: all channels, no warm-up (201-space/train_search.py).
  The official DARTS-space search is progressive (25 epochs at K=6 with 7 ops, the 4 best ops per edge
  kept, 25 at K=4 with the ops widened by net2wider); here it is one stage (docs/reproducing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from types import MappingProxyType
from typing import Literal

import torch
import torch.nn.functional as F
from torch.distributions import Dirichlet, kl_divergence

from fairdarts_core.mixed_op import mixed_op
from fairdarts_core.supernet import ALPHA_PREFIX
from fairdarts_core.variant import Progress, Variant

from .pc_darts import PartialChannelOp

# Per space kind: the official partial-channel K and warm-up (DARTS-space/train_search.py: k=6, arch
# steps from epoch 10 of each 25-epoch stage; 201-space/train_search.py: k=1, no warm-up).
OFFICIAL = {"darts": {"partial_k": 6, "warmup_fraction": 0.4}, "nb201": {"partial_k": 1, "warmup_fraction": 0.0}}


def partial_channel_op(build, channels: int, stride: int, ops, fast: bool = True, k: int = 6) -> PartialChannelOp:
    """A DrNAS edge: partial channels with the bypass unscaled, K the largest divisor of the edge's channels
    not above k (paper size C=36: 6 in every cell; C=8, C=4: 4)."""
    k = max(d for d in range(1, k + 1) if channels % d == 0)
    return PartialChannelOp(build, channels, stride, ops, fast, k=k, scale_bypass=False)


def concentrations(alphas: torch.Tensor) -> torch.Tensor:
    """beta = elu(alpha) + 1 > 0 (official: F.elu(x) + 1)."""
    return F.elu(alphas) + 1


def dirichlet_sample(alphas: torch.Tensor) -> torch.Tensor:
    """One Dirichlet(elu(alpha) + 1) draw per row of (edges, ops) logits, differentiable in alpha. Logits
    at -inf (ops an edge does not hold) are drawn at beta = 1 and then zeroed, the rows renormalized, as the
    official masked rows (their kept part is Dirichlet of the kept betas)."""
    held = torch.isfinite(alphas)
    if bool(held.all()):
        return Dirichlet(concentrations(alphas)).rsample()
    beta = torch.where(held, concentrations(alphas.masked_fill(~held, 0.0)), torch.ones_like(alphas))
    sample = Dirichlet(beta).rsample() * held
    return sample / sample.sum(-1, keepdim=True)


def kl_to_uniform(alphas: torch.Tensor) -> torch.Tensor:
    """sum over edges of KL(Dir(elu(alpha) + 1) || Dir(1, ..., 1)) (official _get_kl_reg's anchor)."""
    beta = concentrations(alphas)
    return kl_divergence(Dirichlet(beta), Dirichlet(torch.ones_like(beta))).sum()


@dataclass(frozen=True)
class DrNAS(Variant):
    name = "drnas"
    summary = "DrNAS (Dirichlet mixing weights sampled every step; DARTS cell: partial channels K=6)"
    # DARTS-space/train_search.py, architect.py (CIFAR-10): batch 64, SGD 0.1 -> 0, Adam 6e-4 (betas 0.5,
    # 0.999, weight decay = reg_scale 1e-3), C=36, 20 cells, 2 x 25 epochs, first order.
    paper_search = MappingProxyType({
        "epochs": 50, "batch_size": 64, "learning_rate": 0.1, "learning_rate_min": 0.0, "momentum": 0.9,
        "weight_decay": 3e-4, "grad_clip": 5.0, "arch_learning_rate": 6e-4, "arch_beta1": 0.5, "arch_beta2": 0.999,
        "arch_weight_decay": 1e-3, "init_channels": 36, "layers": 20, "train_portion": 0.5, "order": "first"})
    # 201-space/train_search.py: 100 epochs, batch 64, SGD 0.025 -> 0.001 (no Nesterov, wd 3e-4), Adam 3e-4,
    # C=16, N=5, the arch step before the weight step; over the space's own protocol.
    space_paper_search = MappingProxyType({"nb201": MappingProxyType({
        "epochs": 100, "batch_size": 64, "learning_rate": 0.025, "learning_rate_min": 0.001, "momentum": 0.9,
        "nesterov": False, "weight_decay": 3e-4, "grad_clip": 5.0, "arch_learning_rate": 3e-4, "arch_beta1": 0.5,
        "arch_beta2": 0.999, "arch_weight_decay": 1e-3, "init_channels": 16, "layers": 5, "train_portion": 0.5,
        "weight_step_first": False, "order": "first"})})

    with_none: bool | None = False  # the 'none' op in the DARTS space: DrNAS searches the 7 DARTS ops without it (NB201 keeps its 5)
    reg_type: Literal["l2", "kl"] = "l2"  # l2 (published): the arch Adam's weight decay, --arch-weight-decay; kl: + reg_scale * KL(Dir(beta) || Dir(1)) (official: no weight decay)
    reg_scale: float = 1e-3  # scale of the kl regularizer
    partial_k: int | None = None  # K: 1/K of each edge's channels go through its ops (K: at most a divisor of the cell's channels); unset: 6 in the DARTS cell, 1 in NB201
    warmup_fraction: float | None = None  # share of the epochs without arch steps; unset: 0.4 in the DARTS cell (official: 10 of 25), 0 in NB201

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reg_scale < 0:
            raise ValueError(f"reg_scale must be >= 0, got {self.reg_scale}")
        if self.partial_k is not None and self.partial_k < 1:
            raise ValueError(f"partial_k must be >= 1, got {self.partial_k}")
        if self.warmup_fraction is not None and not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")

    def in_space(self, space) -> DrNAS:
        official = OFFICIAL["nb201" if space.family == "nb201" else "darts"]
        return replace(self, **{k: v for k, v in official.items() if getattr(self, k) is None})

    # ----- weights ---------------------------------------------------------------------------------
    def train_weights(self, arch, space, progress: Progress | None):
        return {kind: dirichlet_sample(arch[ALPHA_PREFIX + kind]) for kind in space.cell_kinds}

    def arch_param_loss(self, arch, space) -> torch.Tensor | None:
        if self.reg_type != "kl":
            return None
        return self.reg_scale * sum(kl_to_uniform(arch[ALPHA_PREFIX + kind]) for kind in space.cell_kinds)

    def mixed_op(self):
        k = self.partial_k or 1
        return mixed_op if k == 1 else partial(partial_channel_op, k=k)

    def arch_step(self, progress: Progress) -> bool:
        return progress.stage_epoch >= round((self.warmup_fraction or 0.0) * progress.stage_epochs)
