"""DARTS in its three settings: softmax weights, the op sets, the original paper's hyperparameters."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.sizes import PRESETS
from fairdarts_core.spaces import get_space
from variants import make_variant

DARTS_SPACE = get_space("darts")


def test_darts_weights_sum_to_one_per_edge():
    variant = make_variant("darts")
    arch = {"alphas_normal": torch.randn(14, 7) * 3, "alphas_reduce": torch.randn(14, 7)}
    for w in variant.weights(arch, DARTS_SPACE).values():
        assert torch.allclose(w.sum(-1), torch.ones(14))


def test_fairdarts_repository_darts_has_seven_ops_and_the_original_eight():
    assert "none" not in make_variant("darts").primitives(DARTS_SPACE)
    for name in ("darts_v1", "darts_v2"):
        ops = make_variant(name).primitives(DARTS_SPACE)
        assert ops[0] == "none" and len(ops) == 8
    assert make_variant("darts", with_none=True).primitives(DARTS_SPACE)[0] == "none"
    assert "none" not in make_variant("darts_v1", with_none=False).primitives(DARTS_SPACE)


@pytest.mark.parametrize("preset", ["paper", "quick"])
def test_original_darts_uses_its_adam_betas_and_order_in_every_preset(preset):
    v1, v2, repo = (PRESETS[preset].search_config(make_variant(n)) for n in ("darts_v1", "darts_v2", "darts"))
    assert (v1.arch_beta1, v1.order) == (0.5, "first")
    assert (v2.arch_beta1, v2.order) == (0.5, "second")
    assert (repo.arch_beta1, repo.order) == (0.9, "first")
    assert v1.arch_weight_decay == v2.arch_weight_decay == 1e-3


def test_paper_preset_is_the_published_darts_search():
    config = PRESETS["paper"].search_config(make_variant("darts_v2"))
    assert (config.epochs, config.batch_size, config.learning_rate, config.learning_rate_min) == (50, 64, 0.025, 0.001)
    assert config.arch_learning_rate == 3e-4 and (config.init_channels, config.layers) == (16, 8)
