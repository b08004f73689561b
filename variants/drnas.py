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
- DARTS cell: progressive, 2 stages of 25 epochs in 20 cells of C=36 (DARTS-space/train_search.py):
  partial channels K=6 then K=4 (the bypass unscaled, no edge normalization), the 7 ops without 'none'
  then the 4 of highest alpha per edge, 10 weight-only epochs in each stage; the second stage's supernet
  takes over the first's weights, its kept ops widened from C/6 to C/4 channels by duplicating random
  channels (net2wider.py), the SGD momentum widened alike, the alphas (pruned ones at 0) and Adam's state.
  NB201: one stage of 100 epochs, all channels, no warm-up (201-space/train_search.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from types import MappingProxyType
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Dirichlet, kl_divergence

from fairdarts_core.mixed_op import MixedOp, mixed_op
from fairdarts_core.ops import DilConv, FactorizedReduce, SepConv
from fairdarts_core.supernet import ALPHA_PREFIX
from fairdarts_core.variant import Progress, Stage, Variant

from .p_darts import pruned_stage
from .pc_darts import PartialChannelOp

# Per space kind: the official partial-channel K per stage and warm-up (DARTS-space/train_search.py: ks
# [6, 4], arch steps from epoch 10 of each 25-epoch stage; 201-space/train_search.py: k=1, no warm-up).
OFFICIAL = {"darts": {"partial_k": (6, 4), "warmup_fraction": 0.4},
            "nb201": {"partial_k": (1,), "warmup_fraction": 0.0}}
Plan = dict[str, tuple]  # a carry plan: {name in the new supernet: (name in the old, fn[, fn of the optimizer state])}


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
    partial_k: tuple[int, ...] | None = None  # K per stage (a stage each): 1/K of the channels of an edge go through its ops; unset: 6, 4 in the DARTS cell, 1 in NB201
    num_keep: tuple[int, ...] = (4,)  # ops each edge keeps from the second stage on, one entry per later stage (official: 7 -> 4)
    warmup_fraction: float | None = None  # share of each stage's epochs without arch steps; unset: 0.4 in the DARTS cell (official: 10 of 25), 0 in NB201

    def __post_init__(self) -> None:
        for name in ("partial_k", "num_keep"):  # lists from JSON / YAML settings
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(getattr(self, name)))
        super().__post_init__()
        if self.reg_scale < 0:
            raise ValueError(f"reg_scale must be >= 0, got {self.reg_scale}")
        if self.partial_k is not None and (not self.partial_k or min(self.partial_k) < 1):
            raise ValueError(f"partial_k needs one K >= 1 per stage, got {self.partial_k}")
        if any(a <= b for a, b in zip(self.num_keep, self.num_keep[1:])) or min(self.num_keep, default=1) < 1:
            raise ValueError(f"num_keep must decrease and stay >= 1, got {self.num_keep}")
        if self.partial_k is not None and len(self.num_keep) < len(self.partial_k) - 1:
            raise ValueError(f"num_keep needs an entry per stage after the first, got {self.num_keep} for "
                             f"{len(self.partial_k)} stages")
        if self.warmup_fraction is not None and not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")

    def in_space(self, space) -> DrNAS:
        """Unset options at the official values; DARTS cells with no more than num_keep[0] ops per edge
        (R-DARTS S2-S4) search in one stage at the first K."""
        official = dict(OFFICIAL["nb201" if space.family == "nb201" else "darts"])
        if len(self.primitives(space)) <= self.num_keep[0]:
            official["partial_k"] = official["partial_k"][:1]
        return replace(self, **{k: v for k, v in official.items() if getattr(self, k) is None})

    def check_space(self, space) -> None:
        super().check_space(space)
        resolved = self.in_space(space)
        if len(resolved.partial_k) > 1 and len(self.primitives(space)) <= self.num_keep[0]:
            raise ValueError(f"DrNAS' stages need more than {self.num_keep[0]} ops per edge, "
                             f"{space.name} has {len(self.primitives(space))}; pass --partial-k with one K")

    # ----- stages ----------------------------------------------------------------------------------
    def plan(self, epochs: int, cells: int, space) -> tuple[Stage, ...]:
        """One stage per K, the epochs split evenly (the remainder to the first), stages without epochs dropped."""
        n = len(self.in_space(space).partial_k)
        return tuple(Stage(e, cells) for s in range(n) if (e := epochs // n + (s < epochs % n)) > 0)

    def between_stages(self, weights, done: Stage, nxt: Stage, space, primitives) -> Stage:
        """Each edge keeps its num_keep ops of highest weight (softmax(alpha): the official ranks alpha)."""
        return pruned_stage(weights, done, nxt, space, primitives, lambda n: next(k for k in self.num_keep if k < n))

    def stage_mixed_op(self, stage: int):
        k = (self.partial_k or (1,))[stage]
        return mixed_op if k == 1 else partial(partial_channel_op, k=k)

    def carry(self, old: nn.Module, new: nn.Module, generator: torch.Generator) -> Plan:
        """Everything of the last stage's supernet; the kept ops widened (`widen_op`), the pruned alphas at 0."""
        plan: Plan = {}
        old_ops, inside = dict(old.named_modules()), []
        for path, mixed in new.named_modules():
            if isinstance(mixed, MixedOp):
                before = old_ops[path]
                inside.append(path + ".")
                for i, (col, op) in enumerate(zip(mixed.columns, mixed.ops)):
                    j = before.columns.index(col)
                    plan.update(widen_op(before.ops[j], op, f"{path}.ops.{j}.", f"{path}.ops.{i}.", generator))
        masks = new.op_masks()
        for name, _ in [*new.named_parameters(), *new.named_buffers()]:
            if name.startswith(tuple(inside)) or name.startswith("op_mask_"):
                continue
            kind = name.removeprefix("arch." + ALPHA_PREFIX)
            if name.startswith("arch." + ALPHA_PREFIX) and kind in masks:
                held = masks[kind]
                plan[name] = (name, lambda t, held=held: t * held, _same)
            else:
                plan[name] = (name, _same)
        return plan

    # ----- weights ---------------------------------------------------------------------------------
    def train_weights(self, arch, space, progress: Progress | None):
        return {kind: dirichlet_sample(arch[ALPHA_PREFIX + kind]) for kind in space.cell_kinds}

    def arch_param_loss(self, arch, space) -> torch.Tensor | None:
        if self.reg_type != "kl":
            return None
        return self.reg_scale * sum(kl_to_uniform(arch[ALPHA_PREFIX + kind]) for kind in space.cell_kinds)

    def mixed_op(self):
        return self.stage_mixed_op(0)

    def arch_step(self, progress: Progress) -> bool:
        return progress.stage_epoch >= round((self.warmup_fraction or 0.0) * progress.stage_epochs)


# ----- widening (DrNAS net2wider.py) -------------------------------------------------------------------
def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def _widened(dims: tuple[tuple[int, torch.Tensor], ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    """old tensor -> the tensor with, per (dim, index), the channels `index` appended along dim."""
    def fn(t: torch.Tensor) -> torch.Tensor:
        for dim, index in dims:
            t = torch.cat([t, t.index_select(dim, index.to(t.device))], dim)
        return t
    return fn


def _extra(old: int, new: int, generator: torch.Generator) -> torch.Tensor:
    """The random channels (of `old`) duplicated to reach `new` (net2wider's torch.randint)."""
    return torch.randint(0, old, (new - old,), generator=generator)


def _bn(old: nn.BatchNorm2d, old_name: str, new_name: str, index: torch.Tensor) -> Plan:
    """A BatchNorm's running stats (and affine parameters) widened by `index`, its counter kept."""
    plan = {new_name + n: (old_name + n, _widened(((0, index),))) for n, _ in
            [*old.named_parameters(), *old.named_buffers()] if n != "num_batches_tracked"}
    if old.num_batches_tracked is not None:
        plan[new_name + "num_batches_tracked"] = (old_name + "num_batches_tracked", _same)
    return plan


def _dil(old: DilConv, new: DilConv, old_name: str, new_name: str, gen: torch.Generator) -> Plan:
    """ReLU, depthwise conv, pointwise conv, BN: the depthwise conv's new channels random, the pointwise
    conv's inputs following them, its outputs and the BN's random (DilConv.wider)."""
    c_in, c_out = old[1].out_channels, old[2].out_channels
    depth, point = _extra(c_in, new[1].out_channels, gen), _extra(c_out, new[2].out_channels, gen)
    return {new_name + "1.weight": (old_name + "1.weight", _widened(((0, depth),))),
            new_name + "2.weight": (old_name + "2.weight", _widened(((1, depth), (0, point)))),
            **_bn(old[3], old_name + "3.", new_name + "3.", point)}


def widen_op(old: nn.Module, new: nn.Module, old_name: str, new_name: str, gen: torch.Generator) -> Plan:
    """The carry plan of one op from C/K_old to C/K_new channels, as DrNAS' op.wider(): new channels are
    copies of random old ones (the same copies where one layer feeds the next), weights not rescaled."""
    if isinstance(old, SepConv):
        return {**_dil(old[0], new[0], old_name + "0.", new_name + "0.", gen),
                **_dil(old[1], new[1], old_name + "1.", new_name + "1.", gen)}
    if isinstance(old, DilConv):
        return _dil(old, new, old_name, new_name, gen)
    if isinstance(old, FactorizedReduce):
        plan, halves = {}, []
        for conv in ("conv_1", "conv_2"):
            a, b = getattr(old, conv), getattr(new, conv)
            ins, outs = _extra(a.in_channels, b.in_channels, gen), _extra(a.out_channels, b.out_channels, gen)
            plan[f"{new_name}{conv}.weight"] = (f"{old_name}{conv}.weight", _widened(((1, ins), (0, outs))))
            halves.append(outs)
        return {**plan, **_bn(old.bn, old_name + "bn.", new_name + "bn.", torch.cat(halves))}
    if isinstance(old, nn.Sequential) and isinstance(old[-1], nn.BatchNorm2d):  # pooling + BN
        last = f"{len(old) - 1}."
        return _bn(old[-1], old_name + last, new_name + last, _extra(old[-1].num_features, new[-1].num_features, gen))
    if any(True for _ in old.parameters()) or any(True for _ in old.buffers()):
        raise ValueError(f"DrNAS cannot widen op {type(old).__name__}")
    return {}
