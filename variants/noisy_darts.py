"""Noise DARTS: DARTS plus noise on the output of every stride-1 skip connection, in training only."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from fairdarts_core.variant import Progress, Variant

from .darts import DARTS


@dataclass(frozen=True)
class NoisyDARTS(Variant):
    name = "noisy_darts"
    summary = "noise DARTS (DARTS with noise on the skip connections' outputs)"
    paper_search = DARTS.paper_search

    noise_type: Literal["gaussian", "uniform"] = "gaussian"  # N(mean, 1) or U(mean - 1, mean + 1)
    noise_mix: Literal["additive", "multiplicative"] = "additive"  # x + s*n, or x * (1 + s*n)
    noise_mean: float = 0.0  # mean of the noise before scaling
    noise_scale: Literal["absolute", "relative"] = "absolute"  # absolute: s = d(t); relative: s = lambda * std(x)
    noise_start: float = 1.0  # d(0) of the absolute schedule
    noise_t_max: int = 30  # epochs after which d(t) is 0
    noise_schedule: Literal["cosine", "linear", "constant"] = "cosine"  # how d(t) decays to 0 at T_max
    noise_lambda: float = 0.2  # the relative scale

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.noise_t_max < 1:
            raise ValueError(f"noise_t_max must be >= 1, got {self.noise_t_max}")

    def decay(self, epoch: int) -> float:
        """d(t): noise_start decayed to 0 over noise_t_max epochs, 0 afterwards."""
        if epoch >= self.noise_t_max:
            return 0.0
        if self.noise_schedule == "constant":
            return self.noise_start
        if self.noise_schedule == "linear":
            return self.noise_start * (1.0 - epoch / self.noise_t_max)
        return self.noise_start * 0.5 * (1.0 + math.cos(math.pi * epoch / self.noise_t_max))

    def hooks(self, net: nn.Module, progress: Progress) -> list:
        scale = self.decay(progress.epoch)
        return [skip.register_forward_hook(lambda m, i, out: self.add_noise(m, out, scale)) for skip in net.skip_ops()]

    def add_noise(self, module: nn.Module, out: torch.Tensor, scale: float) -> torch.Tensor | None:
        """The skip's output with noise (absolute scale `scale`); None (unchanged) in eval mode or at 0."""
        if not module.training:
            return None
        if self.noise_scale == "relative":
            if self.noise_lambda == 0:
                return None
            scale = self.noise_lambda * out.detach().std()
        elif scale == 0:
            return None
        # Drawn in NCHW order, so that a channels_last output gets the same noise per element as an NCHW one.
        shape = dict(size=out.shape, dtype=out.dtype, device=out.device)
        noise = torch.randn(**shape) if self.noise_type == "gaussian" else torch.rand(**shape) * 2 - 1
        noise = (noise + self.noise_mean) * scale
        return out + noise if self.noise_mix == "additive" else out * (1 + noise)
