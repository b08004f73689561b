"""The options of a search (`SearchConfig`): sizes, optimizers, order and the reference switches. Presets
of them live in `fairdarts_core.sizes`; the loop that reads them in `fairdarts_core.search`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .spaces import DEFAULT_SPACE


@dataclass(frozen=True)
class SearchConfig:
    space: str = DEFAULT_SPACE  # the search space (darts, nb201, s2, s3, s4)
    epochs: int = 50  # search epochs, all stages together
    batch_size: int = 64  # images per weight step and per architecture step
    learning_rate: float = 0.025  # SGD on the weights, cosine-annealed per stage
    learning_rate_min: float = 0.001  # where the cosine ends
    momentum: float = 0.9  # SGD momentum
    nesterov: bool = False  # Nesterov momentum (the NAS-Bench-201 protocol)
    weight_decay: float = 3e-4  # SGD weight decay
    grad_clip: float = 5.0  # norm clip of the weight gradients
    arch_learning_rate: float = 3e-4  # Adam on the architecture parameters
    arch_beta1: float = 0.9  # Adam beta1: 0.9 in the FairDARTS repository, 0.5 in the original DARTS
    arch_beta2: float = 0.999  # Adam beta2
    arch_weight_decay: float = 1e-3  # Adam weight decay
    arch_grad_clip: float = 0.0  # norm clip of the architecture gradients (P-DARTS: 5); 0: none
    init_channels: int = 16  # C of the supernet's first cells
    layers: int = 8  # cells of the supernet (NB201: cells per stage); a stage plan may add some
    train_portion: float = 0.5  # share of the training images that train the weights; the rest the alphas
    order: Literal["first", "second"] = "first"  # second: the one-step unrolled hypergradient (DARTS V2)
    single_level: bool = False  # weights and alphas stepped on the same (train) batch
    weight_step_first: bool = False  # the weight step before the arch step (the NAS-Bench-201 scripts)
    seed: int = 0  # seeds the supernet, the alphas, the batches and the noise
    train_limit: int = 0  # use only the first N training images before the split (0: all)
    gap_images: int = 512  # fixed search-val images for the discretization gap
    hessian_every: int = 0  # dominant Hessian eigenvalue of the val loss w.r.t. alphas every N epochs (0: never)
    channels_last: bool = True  # channels_last tensors (faster on CPU); off on the reference path
    fast: bool = True  # the shared-ReLU mixed op; False runs the plain Python sum (reference)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "init_channels", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.order not in ("first", "second"):
            raise ValueError(f"unknown order {self.order!r}; valid: first, second")
        if self.single_level and self.order == "second":
            raise ValueError("single_level and second order exclude each other")
        for name in ("learning_rate", "arch_learning_rate", "grad_clip"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.arch_grad_clip < 0 or self.hessian_every < 0 or self.train_limit < 0:
            raise ValueError("arch_grad_clip, hessian_every and train_limit must be >= 0")
