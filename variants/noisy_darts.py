"""Noise DARTS: DARTS plus noise on the output of every stride-1 skip connection, in training only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from fairdarts_core.variant import Variant

NOISE_TYPES = ("gaussian", "uniform")
NOISE_MIXES = ("additive", "multiplicative")
NOISE_SCALES = ("absolute", "relative")
NOISE_SCHEDULES = ("cosine", "linear", "constant")


@dataclass(frozen=True)
class NoisyDARTS(Variant):
    name = "noisy_darts"

    noise_type: str = "gaussian"  # N(mean, 1) or U(mean - 1, mean + 1)
    noise_mix: str = "additive"  # x + s*n, or x * (1 + s*n)
    noise_mean: float = 0.0
    noise_scale: str = "absolute"  # absolute: s = d(t); relative: s = lambda * std(x)
    noise_start: float = 1.0  # d(0) of the absolute schedule
    noise_t_max: int = 30  # d(t) reaches 0 at T_max and stays 0 after
    noise_schedule: str = "cosine"
    noise_lambda: float = 0.2  # the relative scale
    _state: dict = field(default_factory=lambda: {"epoch": 0}, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        for value, valid, what in ((self.noise_type, NOISE_TYPES, "noise type"),
                                   (self.noise_mix, NOISE_MIXES, "noise mix"),
                                   (self.noise_scale, NOISE_SCALES, "noise scale"),
                                   (self.noise_schedule, NOISE_SCHEDULES, "noise schedule")):
            if value not in valid:
                raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
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

    def start_epoch(self, epoch: int) -> None:
        self._state["epoch"] = epoch

    def attach(self, model: nn.Module) -> None:
        for skip in model.skip_ops():
            skip.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs, out: torch.Tensor) -> torch.Tensor | None:
        if not module.training:
            return None
        if self.noise_scale == "relative":
            scale = self.noise_lambda * out.detach().std()
            if self.noise_lambda == 0:
                return None
        else:
            scale = self.decay(self._state["epoch"])
            if scale == 0:
                return None
        if self.noise_type == "gaussian":
            noise = torch.randn_like(out)
        else:
            noise = torch.rand_like(out) * 2 - 1
        noise = (noise + self.noise_mean) * scale
        return out + noise if self.noise_mix == "additive" else out * (1 + noise)
