"""FLOPs (thop multiply-adds), parameter counts and accuracy."""

from __future__ import annotations

import contextlib
import copy
import io

import torch
from torch import nn

from .evalnet import NetworkCIFAR
from .genotype import Genotype


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

    clone = _strip_batchnorm(copy.deepcopy(model)).eval().cpu()
    x = torch.zeros(input_size)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        macs, _ = thop.profile(clone, inputs=(x,), verbose=False)
    return float(macs)


def profile_genotype(genotype: Genotype, init_channels: int = 36, layers: int = 20,
                     num_classes: int = 10) -> dict[str, float]:
    """FLOPs (thop multiply-adds, millions) and params (millions) of a genotype's CIFAR network.

    -> {"flops_m", "params_m" (without the auxiliary head), "params_with_aux_m"}
    """
    model = NetworkCIFAR(genotype, init_channels, layers, num_classes, auxiliary=True)
    return {
        "flops_m": count_macs(model) / 1e6,
        "params_m": count_params(model) / 1e6,
        "params_with_aux_m": count_params(model, include_aux=True) / 1e6,
    }


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy in percent."""
    return float((logits.argmax(dim=1) == target).float().mean().item() * 100.0)
