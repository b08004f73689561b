"""Noise DARTS: noise on the stride-1 skips' outputs, in training only, decaying to zero at T_max."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import build_supernet, model_weights
from fairdarts_core.spaces import get_space
from fairdarts_core.variant import Progress
from variants import make_variant

DARTS_SPACE = get_space("darts")


def _logits(variant, train: bool, epoch: int = 0):
    config = SearchConfig(init_channels=4, layers=3, seed=0, channels_last=False)
    model = build_supernet(variant, config, 10, "cpu")
    model.train(train)
    handles = variant.hooks(model, Progress(0, 1, epoch, 50, epoch, 50))
    torch.manual_seed(123)
    x = torch.randn(4, 3, 32, 32)
    out = model(x, model_weights(model, variant, DARTS_SPACE))
    for h in handles:
        h.remove()
    return out


def test_zero_noise_gives_exactly_the_darts_logits():
    darts = _logits(make_variant("darts"), train=True)
    assert torch.equal(darts, _logits(make_variant("noisy_darts", noise_start=0.0), train=True))
    assert torch.equal(darts, _logits(make_variant("noisy_darts", noise_scale="relative", noise_lambda=0.0), True))


def test_noise_only_in_training_mode_and_before_t_max():
    darts_train, darts_eval = _logits(make_variant("darts"), True), _logits(make_variant("darts"), False)
    assert not torch.equal(darts_train, _logits(make_variant("noisy_darts"), True))
    assert torch.equal(darts_eval, _logits(make_variant("noisy_darts"), False))
    assert torch.equal(darts_train, _logits(make_variant("noisy_darts", noise_t_max=30), True, epoch=30))


def test_noise_only_on_stride_one_skips():
    variant = make_variant("noisy_darts")
    model = build_supernet(variant, SearchConfig(init_channels=4, layers=3), 10, "cpu")
    handles = variant.hooks(model, Progress(0, 1, 0, 50, 0, 50))
    hooked = [m for m in model.modules() if m._forward_hooks]
    assert hooked and all(type(m).__name__ == "Identity" for m in hooked)
    # Every stride-1 edge has one skip; reduction cells' stride-2 edges (from nodes 0, 1) use FactorizedReduce.
    normal_cells = sum(not c.reduction for c in model.cells)
    reduce_cells = sum(c.reduction for c in model.cells)
    assert len(hooked) == len(handles) == normal_cells * 14 + reduce_cells * (14 - 8)


def test_noise_schedule_decays_to_zero_at_t_max():
    variant = make_variant("noisy_darts", noise_t_max=30)
    assert variant.decay(0) == 1.0
    assert variant.decay(15) == pytest.approx(0.5)
    assert variant.decay(30) == 0.0 and variant.decay(45) == 0.0
    assert make_variant("noisy_darts", noise_schedule="linear", noise_t_max=10).decay(5) == pytest.approx(0.5)
