"""Counters for any network: FLOPs (thop multiply-adds), parameter counts, accuracy. Each space's
`profile` applies them to its evaluation network."""

from __future__ import annotations

import contextlib
import copy
import io

import torch
from torch import nn


def count_params(model: nn.Module, include_aux: bool = False) -> int:
    """Number of parameters; the auxiliary head is excluded unless include_aux."""
    return sum(p.numel() for name, p in model.named_parameters()
               if include_aux or not name.startswith("auxiliary."))


def _strip_batchnorm(model: nn.Module) -> nn.Module:
    for name, child in model.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            _strip_batchnorm(child)
    return model


def count_macs(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 32, 32)) -> float:
    """Multiply-accumulates of one forward pass counted by thop, BatchNorm removed, eval mode.

    thop calls these FLOPs; the published tables do too. Profiles a deep copy, since thop adds
    buffers to the modules it profiles.
    """
    import thop  # imported here: thop prints on import in some versions

    clone = _strip_batchnorm(copy.deepcopy(model)).eval().cpu()  # a copy: thop adds buffers
    x = torch.zeros(input_size)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        macs, _ = thop.profile(clone, inputs=(x,), verbose=False)
    return float(macs)


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy in percent."""
    return float((logits.argmax(dim=1) == target).float().mean().item() * 100.0)
