"""R-DARTS (Zela et al., ICLR 2020; automl/RobustDARTS `scripts/DARTS_search.sh`, `src/search/train_search.py`):
DARTS V2 (second order, 8 ops with 'none'), with a stronger weight decay (`rdarts_l2`) or early stopping on the
Hessian's dominant eigenvalue (`rdarts_es`), the regularizers of `fairdarts_core/regularizers/rdarts.py`."""

from __future__ import annotations

from dataclasses import dataclass

from .darts import DARTSV2


@dataclass(frozen=True)
class RDARTSL2(DARTSV2):
    name = "rdarts_l2"
    summary = "R-DARTS L2 (DARTS V2 with weight decay 8.1e-3 on the network weights)"

    regularizers: tuple[str, ...] = ("rdarts_l2",)  # regularizers the search adds (fairdarts_core.regularizers), by name


@dataclass(frozen=True)
class RDARTSES(DARTSV2):
    name = "rdarts_es"
    summary = "DARTS-ES of R-DARTS (DARTS V2, stopped when the Hessian eigenvalue's local average grows x1.3)"

    regularizers: tuple[str, ...] = ("rdarts_es",)  # regularizers the search adds (fairdarts_core.regularizers), by name
