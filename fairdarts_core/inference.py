"""Inference helpers for any space's evaluation network: chunked eval-mode logits and a copy with
BatchNorm folded into the convs before it."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .ops import FactorizedReduce

# Images per forward for CPU inference: 16 keep the activations of a C=36 network in cache, which
# measured 2.7x the images/s of one batch of 256 on 2 cores (FairDARTS_a; see README, performance).
CPU_INFERENCE_CHUNK = 16


def predict(model: nn.Module, x: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """Eval-mode logits of x, `chunk` images per forward (default: CPU_INFERENCE_CHUNK on CPU, all at
    once elsewhere). The outputs are those of one forward: in eval mode images do not interact."""
    if chunk is None:
        chunk = CPU_INFERENCE_CHUNK if x.device.type == "cpu" else x.shape[0]
    return torch.cat([model(part)[0] for part in x.split(max(1, chunk))])


def _fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d, channels: slice = slice(None)) -> None:
    """Scale conv's output channels by bn's eval-mode affine map (its `channels` part) and add the shift as bias."""
    std = torch.sqrt(bn.running_var[channels] + bn.eps)
    scale = (bn.weight[channels] if bn.affine else torch.ones_like(std)) / std
    shift = (bn.bias[channels] if bn.affine else torch.zeros_like(std)) - bn.running_mean[channels] * scale
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter(shift.clone())


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An inference copy of an evaluation network with every BatchNorm that follows a conv folded
    into that conv's weights and bias: the same eval-mode outputs, one op fewer per conv+BN pair."""
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if isinstance(module, nn.Sequential):
            children = list(module)
            for i in range(1, len(children)):
                if isinstance(children[i], nn.BatchNorm2d) and isinstance(children[i - 1], nn.Conv2d):
                    _fold_into(children[i - 1], children[i])
                    module[i] = nn.Identity()
        elif isinstance(module, FactorizedReduce) and isinstance(module.bn, nn.BatchNorm2d):
            half = module.conv_1.out_channels
            _fold_into(module.conv_1, module.bn, slice(0, half))
            _fold_into(module.conv_2, module.bn, slice(half, None))
            module.bn = nn.Identity()
    for module in folded.modules():
        if hasattr(module, "refresh_tails"):  # a cell that keeps views of its ops (the DARTS EvalCell)
            module.refresh_tails()
    return folded
