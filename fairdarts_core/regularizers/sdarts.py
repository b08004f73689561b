"""SDARTS (Chen & Hsieh, ICML 2020; xiangning-chen/SmoothDARTS `attacker/perturb.py`, `sota/cnn/train_search.py`):
after the architecture step, the weight step trains on perturbed activated weights (random smoothing: uniform
noise in [-eps, eps]; adversarial: PGD in the L-inf ball of radius eps), eps ramping linearly over the search.
The perturbed weights are detached: the weight step updates the network weights only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .base import XY, Regularizer


def project(weights: torch.Tensor, activation: str) -> torch.Tensor:
    """The official `clip`: each row clamped to [0, 1] and, for softmax weights, divided by its sum (a row
    that clamps to all zeros puts 1 on the op that was largest before the clamp). Sigmoid rows: the clamp."""
    clamped = weights.clamp(0.0, 1.0)
    if activation != "softmax":
        return clamped
    empty = clamped.sum(-1, keepdim=True) == 0
    top = F.one_hot(weights.argmax(-1), weights.shape[-1]).to(weights.dtype)
    clamped = torch.where(empty, top, clamped)
    return clamped / clamped.sum(-1, keepdim=True)


@dataclass(frozen=True)
class SDARTSRandom(Regularizer):
    """SDARTS-RS: uniform noise in [-eps, eps] on the activated weights of every weight step, projected back."""

    name = "sdarts_rs"
    summary = "SDARTS-RS: the weight step trains on weights + U(-eps, eps), eps 0.03 -> 0.3 (Chen & Hsieh 2020)"

    epsilon_min: float = 0.03  # SDARTS: eps of the first epoch; eps_t = min + (max - min) * epoch / epochs
    epsilon_max: float = 0.3  # SDARTS: the eps the linear ramp heads for (reached after the last epoch)

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon_min <= self.epsilon_max:
            raise ValueError(f"epsilon_min and epsilon_max must satisfy 0 <= min <= max, got "
                             f"{self.epsilon_min}, {self.epsilon_max}")

    def epsilon(self, progress: Any) -> float:
        """eps of the epoch `progress` (None, outside a search: the first epoch's)."""
        fraction = 0.0 if progress is None else progress.epoch / progress.epochs
        return self.epsilon_min + (self.epsilon_max - self.epsilon_min) * fraction

    def check(self, variant: Any) -> None:
        if variant.activation not in ("softmax", "sigmoid"):  # one activation per edge (PC-DARTS' rows are not)
            raise ValueError(f"{self.name} perturbs per-edge softmax or sigmoid weights; {variant.name}'s weights "
                             f"are {variant.activation}")

    def check_config(self, config: Any) -> None:
        if config.single_level:
            raise ValueError(f"{self.name} perturbs the weights of the weight step: not with single_level")

    def perturb(self, run: Any, weights: dict[str, torch.Tensor], xy: XY) -> dict[str, torch.Tensor]:
        eps = self.epsilon(run.progress)
        activation, masks = run.variant.activation, run.model.op_masks()
        with torch.no_grad():
            clean = {k: w.detach() for k, w in weights.items()}
            return self.attack(run, clean, xy, eps, activation, masks)

    def attack(self, run: Any, clean: dict[str, torch.Tensor], xy: XY, eps: float, activation: str,
               masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return _noisy(clean, eps, activation, masks)


def _noisy(weights: dict[str, torch.Tensor], eps: float, activation: str,
           masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """weights + U(-eps, eps), drawn per cell kind in order, projected; ops an edge lacks stay at 0."""
    out = {}
    for kind, w in weights.items():
        noise = torch.zeros_like(w).uniform_(-eps, eps)
        if kind in masks:
            noise = noise * masks[kind].to(w.dtype)
        out[kind] = project(w + noise, activation)
    return out


@dataclass(frozen=True)
class SDARTSAdversarial(SDARTSRandom):
    """SDARTS-ADV: a PGD attack in the L-inf ball of radius eps around the activated weights."""

    name = "sdarts_adv"
    summary = "SDARTS-ADV: the weight step trains on a 7-step L-inf PGD attack on the weights, eps 0.03 -> 0.3"

    pgd_steps: int = 7  # SDARTS-ADV: PGD steps of step size 2 * eps / steps (a random start in the ball first)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pgd_steps < 1:
            raise ValueError(f"pgd_steps must be >= 1, got {self.pgd_steps}")

    def attack(self, run: Any, clean: dict[str, torch.Tensor], xy: XY, eps: float, activation: str,
               masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The official `Linf_PGD_alpha`: in eval mode (BatchNorm on its running statistics), from a random
        start, `pgd_steps` signed-gradient ascent steps on the cross-entropy, each clamped to the ball and
        projected; the clean weights if the attack ends with a lower loss than they give."""
        model, (x, y) = run.model, xy
        training = model.training
        model.eval()
        try:
            loss_before = F.cross_entropy(model(x, clean), y)
            w = _noisy(clean, eps, activation, masks)
            lr = 2 * eps / self.pgd_steps
            for _ in range(self.pgd_steps):
                with torch.enable_grad():
                    leaves = {k: v.detach().requires_grad_(True) for k, v in w.items()}
                    loss = F.cross_entropy(model(x, leaves), y)
                    grads = torch.autograd.grad(loss, list(leaves.values()))
                w = {k: clean[k] + (v + lr * g.sign() - clean[k]).clamp(-eps, eps)
                     for (k, v), g in zip(w.items(), grads)}
                w = {k: project(v, activation) for k, v in w.items()}
            loss_after = F.cross_entropy(model(x, w), y)
        finally:
            model.train(training)
        return clean if loss_before > loss_after else w
