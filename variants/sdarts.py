"""SDARTS (Chen & Hsieh, ICML 2020; xiangning-chen/SmoothDARTS `sota/cnn/train_search.py`): DARTS V1 (first order,
Adam betas 0.5/0.999) on the 7 ops without 'none' (its DARTS space, `s5`), the weight step on perturbed weights:
the `sdarts_rs` / `sdarts_adv` regularizer (`fairdarts_core/regularizers/sdarts.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from .darts import DARTSV1


@dataclass(frozen=True)
class SDARTSRS(DARTSV1):
    name = "sdarts_rs"
    summary = "SDARTS-RS (DARTS V1, 7 ops; the weight step on weights + U(-eps, eps), eps 0.03 -> 0.3)"

    with_none: bool | None = False  # the 'none' op in the DARTS space: SDARTS searches the 7 ops without it
    regularizers: tuple[str, ...] = ("sdarts_rs",)  # regularizers the search adds (fairdarts_core.regularizers), by name


@dataclass(frozen=True)
class SDARTSADV(SDARTSRS):
    name = "sdarts_adv"
    summary = "SDARTS-ADV (DARTS V1, 7 ops; the weight step on a 7-step L-inf PGD attack on the weights)"

    regularizers: tuple[str, ...] = ("sdarts_adv",)  # regularizers the search adds (fairdarts_core.regularizers), by name
