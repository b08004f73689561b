"""The interface a regularizer implements: a component that any variant's search can carry
(`Variant.regularizers`), with four hooks the shared loop calls, each doing nothing by default:

- `configure(config)`: overrides of the search config (R-DARTS L2: the weight decay);
- `arch_term(arch, progress)`: a term added to the loss that steps the architecture (beta-DARTS);
- `perturb(run, weights, xy)`: the weights the weight step trains with (SDARTS);
- `stop(history, config)`: after an epoch, whether to end the search and which epoch's architecture
  it returns (R-DARTS ES).

Options are the dataclass fields (the comment on a field's line is its help text); a regularizer that
cannot go with a variant says so in `check`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch

from ..search_config import SearchConfig

XY = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Regularizer:
    """No regularization: every hook returns what it was given."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line: what it does and where it comes from

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Regularizer:
        """This regularizer with those of `options` that are its fields."""
        own = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in own})

    def options(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check(self, variant: Any) -> None:
        """Raise a one-line ValueError if this regularizer cannot go with `variant`."""

    def check_config(self, config: SearchConfig) -> None:
        """Raise a one-line ValueError if this regularizer cannot go with the search `config`."""

    def configure(self, config: SearchConfig) -> SearchConfig:
        """The search config this regularizer runs with."""
        return config

    def arch_term(self, arch: Mapping[str, torch.Tensor], progress: Any) -> torch.Tensor | None:
        """A term on the architecture parameters (masked, by name) added to the architecture step's loss."""
        return None

    def perturb(self, run: Any, weights: dict[str, torch.Tensor], xy: XY) -> dict[str, torch.Tensor]:
        """The weights the weight step of `run` trains with on batch `xy` (given: the variant's)."""
        return weights

    def stop(self, history: Sequence[Mapping[str, Any]], config: SearchConfig) -> int | None:
        """After the epoch history[-1]: None to go on, else the epoch whose architecture the search returns."""
        return None
