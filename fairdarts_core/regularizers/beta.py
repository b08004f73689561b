"""beta-DARTS (Ye et al., CVPR 2022; Sunshine-Ye/Beta-DARTS `optimizers/darts/architect.py`, `mlc_loss`, as its
NAS-Bench-201 script `nasbench201/train_search.py` calls it): the architecture loss gets
lambda_t * mean over edges of logsumexp(alpha), lambda_t ramping linearly from 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..supernet import ALPHA_PREFIX
from .base import Regularizer


def beta_decay_loss(alphas: torch.Tensor) -> torch.Tensor:
    """The official `mlc_loss`: the mean over edges (rows) of the logsumexp of each edge's alphas."""
    return torch.logsumexp(alphas, dim=-1).mean()


@dataclass(frozen=True)
class BetaDecay(Regularizer):
    """lambda_t * mean over the edges of every cell kind of logsumexp(alpha), on the architecture step."""

    name = "beta"
    summary = "beta-DARTS: lambda_t * mean_edges logsumexp(alpha) on the arch loss, lambda 0 -> 50 (Ye et al. 2022)"

    beta_lambda: float = 50.0  # beta-DARTS: lambda_t = beta_lambda * epoch / epochs (the code: 50 * epoch / 100)

    def __post_init__(self) -> None:
        if self.beta_lambda < 0:
            raise ValueError(f"beta_lambda must be >= 0, got {self.beta_lambda}")

    def weight(self, progress: Any) -> float:
        """lambda of the epoch `progress` (None, outside a search: the first epoch's, 0)."""
        return 0.0 if progress is None else self.beta_lambda * progress.epoch / progress.epochs

    def arch_term(self, arch: Mapping[str, torch.Tensor], progress: Any) -> torch.Tensor | None:
        alphas = torch.cat([a for name, a in arch.items() if name.startswith(ALPHA_PREFIX)])
        return self.weight(progress) * beta_decay_loss(alphas)
