"""GDAS (Dong & Yang, CVPR 2019): each step samples one op per edge by a hard Gumbel-softmax, and
only that op is computed (official code: D-X-Y/AutoDL-Projects, xautodl/models/cell_searchs/
search_model_gdas.py, search_model_gdas_nasnet.py, search_cells.py, exps/NAS-Bench-201-algos/GDAS.py).

- Sampling (`train_weights`): per cell kind, every forward draws Gumbel noise g = -log(Exp(1)) and
  takes probs = softmax((log_softmax(alpha) + g) / tau); the row is the straight-through one-hot
  `one_hot(argmax probs) - probs.detach() + probs` (values 0 and 1, the gradient of probs). A draw
  with an infinite Gumbel value or a non-finite prob is drawn again, as the official loop does.
- tau decays linearly from tau_max at the first epoch to tau_min at the last.
- Single path (`SampledOp`): an edge computes only the op of its row's argmax column, times that
  weight. In NB201 the other columns' (zero) weights are added to the edge's output as well, so they
  receive the sum of the output's gradient (`NAS201SearchCell.forward_gdas`); in the DARTS-cell spaces
  they are left out (`MixedOp.forward_gdas` of the NASNet-space model), so only the sampled weight
  carries a gradient.
- `weights()` stays the softmax of alpha: the parse (the official genotype() reads the argmax of
  alpha), the records and the Hessian read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

from fairdarts_core.mixed_op import MixedOp
from fairdarts_core.supernet import ALPHA_PREFIX
from fairdarts_core.variant import Progress, Variant


def gumbel_one_hot(alpha: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(hard weights, one-hot) of one (edges, ops) alpha: the straight-through Gumbel-softmax sample of
    the official forward, the noise drawn from the global generator of alpha's device."""
    while True:
        gumbels = -torch.empty_like(alpha).exponential_().log()
        probs = ((alpha.log_softmax(dim=1) + gumbels) / tau).softmax(dim=1)
        one_hot = torch.zeros_like(probs).scatter_(-1, probs.max(-1, keepdim=True)[1], 1.0)
        if (torch.isfinite(gumbels).all() & torch.isfinite(probs).all()).item():
            return one_hot - probs.detach() + probs, one_hot


class SampledOp(MixedOp):
    """The single-path edge: only the op of the row's argmax column runs, times its weight; the other
    columns add `w - w.detach()` (value 0), which passes them the sum of the output's gradient. A row
    whose argmax column this edge does not hold (an all-zero row) gives zeros."""

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:  # weights: (space ops,)
        col = int(weights.argmax())
        if col not in self.columns:
            return x.mul(0.0) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.0)
        out = self.ops[self.columns.index(col)](x)
        if not weights.requires_grad:
            return out * weights[col]
        moved = weights - weights.detach()
        rest = moved.sum() - moved[col]  # value 0; d rest / d w_c = 1 for every other column
        return torch.addcmul(rest, out, weights[col])


def sampled_op(build, channels: int, stride: int, ops, fast: bool = True) -> SampledOp:
    """The GDAS mixed-op factory."""
    return SampledOp(build, channels, stride, ops, fast)


@dataclass(frozen=True)
class GDAS(Variant):
    name = "gdas"
    summary = "GDAS (one op per edge sampled by a hard Gumbel-softmax, tau 10 -> 0.1; only it is computed)"
    # The NB201 search (configs/nas-benchmark/algos/GDAS.config, scripts-search/NAS-Bench-201-algos/GDAS.sh):
    # 250 epochs, batch 64, SGD nesterov 0.025 -> 0.001 (cosine), wd 5e-4, clip 5; Adam 3e-4, betas
    # (0.5, 0.999), wd 1e-3; first order, the weight step before the arch step.
    paper_search = MappingProxyType({
        "epochs": 250, "batch_size": 64, "learning_rate": 0.025, "learning_rate_min": 0.001, "momentum": 0.9,
        "nesterov": True, "weight_decay": 5e-4, "grad_clip": 5.0, "arch_learning_rate": 3e-4, "arch_beta1": 0.5,
        "arch_beta2": 0.999, "arch_weight_decay": 1e-3, "order": "first", "weight_step_first": True})
    # In NB201 the same settings win over the space's own search protocol (its 50 epochs).
    space_paper_search = MappingProxyType({"nb201": paper_search})

    with_none: bool | None = True  # the 'none' op in the DARTS space: the official DARTS-space GDAS samples 8 ops, 'none' included
    tau_max: float = 10.0  # Gumbel-softmax temperature at the first epoch
    tau_min: float = 0.1  # temperature at the last epoch (linear in between)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.tau_min <= self.tau_max:
            raise ValueError(f"need 0 < tau_min <= tau_max, got tau_min={self.tau_min}, tau_max={self.tau_max}")

    def tau(self, progress: Progress | None) -> float:
        """tau_max - (tau_max - tau_min) * epoch / (epochs - 1), as GDAS.py; tau_max outside a search's
        epoch and in a one-epoch search."""
        if progress is None or progress.epochs < 2:
            return self.tau_max
        return self.tau_max - (self.tau_max - self.tau_min) * progress.epoch / (progress.epochs - 1)

    def train_weights(self, arch: Mapping[str, torch.Tensor], space, progress: Progress | None) -> dict[str, torch.Tensor]:
        tau = self.tau(progress)
        out = {}
        for kind in space.cell_kinds:  # normal, then reduce: the official draw order
            hard, one_hot = gumbel_one_hot(arch[ALPHA_PREFIX + kind], tau)
            # The DARTS-cell spaces' official edge reads the sampled weight alone: the others get no gradient.
            out[kind] = hard if space.family == "nb201" else hard * one_hot
        return out

    def mixed_op(self):
        return sampled_op
