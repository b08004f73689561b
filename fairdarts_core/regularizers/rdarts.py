"""R-DARTS (Zela et al., ICLR 2020; automl/RobustDARTS `src/search/train_search.py`, `src/utils.py` EVLocalAvg):
L2, a stronger weight decay on the inner problem; ES, early stopping when the local average of the dominant
Hessian eigenvalue grows past a ratio, returning the architecture of the epoch the rule compares against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .base import Regularizer


@dataclass(frozen=True)
class RDARTSL2(Regularizer):
    """The weight step's weight decay set to `l2_weight_decay`."""

    name = "rdarts_l2"
    summary = "R-DARTS L2: weight decay 8.1e-3 on the network weights (Zela et al. 2020)"

    l2_weight_decay: float = 81e-4  # R-DARTS L2: the weights' decay, from its grid 3^k * 3e-4 (8.1e-3: k = 3)

    def __post_init__(self) -> None:
        if self.l2_weight_decay < 0:
            raise ValueError(f"l2_weight_decay must be >= 0, got {self.l2_weight_decay}")

    def configure(self, config: Any) -> Any:
        return replace(config, weight_decay=self.l2_weight_decay)


def local_averages(values: Sequence[float], window: int) -> list[float]:
    """The official tracker's local averages: from the ceil(window/2)-th eigenvalue on, the mean of the last
    `window` (fewer while fewer exist)."""
    first = math.ceil(window / 2)
    return [float(np.mean(values[max(0, n - window):n])) for n in range(first, len(values) + 1)]


def es_stop_epoch(epochs: Sequence[int], eigenvalues: Sequence[float], every: int, window: int = 5, delta: int = 4,
                  factor: float = 1.3, start_epoch: int = 10) -> int | None:
    """The official `EVLocalAvg.early_stop` after the last of `eigenvalues` (computed at `epochs`, every `every`
    epochs): the local average centred window//2 evaluations back against the one `delta` evaluations before
    it; past `factor`, the epoch of that earlier one (whose architecture the search returns), else None."""
    if len(eigenvalues) < math.ceil(window / 2):
        return None
    centre = epochs[-1] - every * (window // 2)
    earlier = centre - every * delta
    averages = local_averages(eigenvalues, window)
    if earlier < start_epoch or len(averages) <= delta:
        return None
    return earlier if averages[-1] / averages[-1 - delta] > factor else None


@dataclass(frozen=True)
class RDARTSEarlyStop(Regularizer):
    """Stop when the dominant eigenvalue's local average grows past `es_factor` (R-DARTS DARTS-ES)."""

    name = "rdarts_es"
    summary = ("R-DARTS ES: stop when the Hessian eigenvalue's local average grows x1.3 over 4 evaluations; "
               "returns the architecture from then (Zela et al. 2020)")

    es_factor: float = 1.3  # R-DARTS ES: stop when local average now / local average es_delta evaluations back > this
    es_window: int = 5  # R-DARTS ES: eigenvalues per local average
    es_delta: int = 4  # R-DARTS ES: evaluations between the two local averages compared
    es_start_epoch: int = 10  # R-DARTS ES: the earlier average's epoch must be at least this

    def __post_init__(self) -> None:
        if self.es_factor <= 0 or self.es_window < 1 or self.es_delta < 1 or self.es_start_epoch < 0:
            raise ValueError("es_factor must be > 0, es_window and es_delta >= 1, es_start_epoch >= 0")

    def configure(self, config: Any) -> Any:
        """The eigenvalue every 2 epochs (R-DARTS' scripts) unless the config asks for it already."""
        return config if config.hessian_every else replace(config, hessian_every=2)

    def stop(self, history: Sequence[Mapping[str, Any]], config: Any) -> int | None:
        last = history[-1]
        if math.isnan(last.get("hessian_eig", math.nan)) or last["epoch"] + 1 >= config.epochs:
            return None  # the rule runs where an eigenvalue was computed, never after the last epoch
        done = [(r["epoch"], r["hessian_eig"]) for r in history if not math.isnan(r.get("hessian_eig", math.nan))]
        return es_stop_epoch([e for e, _ in done], [v for _, v in done], config.hessian_every, self.es_window,
                             self.es_delta, self.es_factor, self.es_start_epoch)
