"""The FairDARTS zero-one loss: pushes independent sigmoid weights towards 0 or 1."""

from __future__ import annotations

import torch

ZERO_ONE_FORMS = ("l2", "l1")


def zero_one_loss(weights: torch.Tensor, form: str = "l2") -> torch.Tensor:
    """-mean((w - 0.5)^2) (l2) or -mean(|w - 0.5|) (l1): -0.25 / -0.5 at 0 and 1, 0 at 0.5."""
    if form == "l2":
        return -torch.mean((weights - 0.5) ** 2)
    if form == "l1":
        return -torch.mean(torch.abs(weights - 0.5))
    raise ValueError(f"unknown zero-one loss form {form!r}; valid: {', '.join(ZERO_ONE_FORMS)}")
