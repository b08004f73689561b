"""What a search measures of its supernet besides the losses: accuracy with given weights (BatchNorm on
batch statistics), the spread of the weights, and the parameter-free share of a parsed genotype."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping

import torch
from torch import nn

PARAMETER_FREE_OPS = ("none", "skip_connect", "max_pool_3x3", "avg_pool_3x3", "noise")


@contextlib.contextmanager
def batch_stats_eval(model: nn.Module):
    """Eval mode (no noise hooks), but BatchNorm normalizes with batch statistics and leaves its running
    stats alone: the supernet's running stats were gathered under other weights, so they are no guide."""
    was_training = model.training
    model.eval()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.track_running_stats) for m in norms]
    for m in norms:
        m.train()
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, _) in zip(norms, saved):
            m.momentum = momentum
        model.train(was_training)


@torch.no_grad()
def supernet_accuracy(model: nn.Module, weights: Mapping[str, torch.Tensor], batches: list) -> float:
    """Top-1 accuracy (%) of the supernet run with `weights` on `batches`, under batch_stats_eval."""
    correct = seen = 0
    with batch_stats_eval(model):
        for x, y in batches:
            correct += (model(x, weights).argmax(1) == y).sum().item()
            seen += y.numel()
    return 100.0 * correct / seen


def weight_indicators(weights: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor] | None = None,
                      normalize: bool = True) -> dict[str, float]:
    """Mean entropy per edge of the weights normalized over ops, and the fraction within 0.1 of 0 or 1,
    over the ops each edge holds. normalize: the fraction on the rows normalized to sum 1 (softmax
    variants whose rows carry an edge weight, PC-DARTS); off for independent sigmoid weights."""
    stacked = torch.cat(list(weights.values())).detach().float()
    probs = stacked / stacked.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean().item()
    values = probs if normalize else stacked
    near = (values < 0.1) | (values > 0.9)
    if masks:
        held = torch.cat([masks[k] for k in weights]).to(near.device)
        return {"weight_entropy": entropy, "near_01": near[held].float().mean().item()}
    return {"weight_entropy": entropy, "near_01": near.float().mean().item()}


def param_free_fraction(genotype) -> float:
    """Share of a genotype's edges (all cells) whose op has no parameters: none, skips, pools, noise."""
    ops = [op for kind in genotype.kinds for op, _, _ in genotype.cell(kind)[0]]
    return sum(op in PARAMETER_FREE_OPS for op in ops) / len(ops) if ops else math.nan
