"""beta-DARTS (Ye et al., CVPR 2022; Sunshine-Ye/Beta-DARTS `nasbench201/train_search.py`): DARTS V1 (first order,
Adam betas 0.5/0.999; 7 ops without 'none' in the DARTS space) with the beta-decay term on the architecture
loss: the `beta` regularizer (`fairdarts_core/regularizers/beta.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from .darts import DARTSV1


@dataclass(frozen=True)
class BetaDARTS(DARTSV1):
    name = "beta_darts"
    summary = "beta-DARTS (DARTS V1, 7 ops; + lambda_t * mean logsumexp(alpha) on the arch loss, lambda 0 -> 50)"

    with_none: bool | None = False  # the 'none' op in the DARTS space: beta-DARTS searches the 7 ops without it
    regularizers: tuple[str, ...] = ("beta",)  # regularizers the search adds (fairdarts_core.regularizers), by name
