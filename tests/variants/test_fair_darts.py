"""FairDARTS: independent sigmoid weights, zero init, the zero-one loss and its ablations."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.spaces import get_space
from variants import make_variant

DARTS_SPACE = get_space("darts")


def test_weights_are_independent_sigmoids_from_zero_alphas():
    variant = make_variant("fair_darts")
    assert torch.equal(variant.init_arch("alphas_normal", (14, 7), torch.Generator()), torch.zeros(14, 7))
    weights = variant.activate(torch.randn(14, 7) * 3)
    assert torch.all((weights > 0) & (weights < 1))
    assert not torch.allclose(weights.sum(-1), torch.ones(14))


def test_zero_one_loss_weight_form_and_softmax_ablation():
    w = {"normal": torch.full((14, 7), 0.9), "reduce": torch.full((14, 7), 0.1)}
    assert make_variant("fair_darts", zero_one_weight=0).arch_loss(w) is None
    assert make_variant("fair_darts", zero_one_weight=10).arch_loss(w).item() == pytest.approx(-10 * 0.16)
    assert make_variant("fair_darts", zero_one_form="l1").arch_loss(w).item() == pytest.approx(-10 * 0.4)
    soft = make_variant("fair_darts", use_softmax=True)
    assert soft.activation == "softmax"
    assert torch.allclose(soft.activate(torch.zeros(14, 7)).sum(-1), torch.ones(14))


def test_bad_options_are_errors_naming_the_valid_values():
    with pytest.raises(ValueError, match="l2, l1"):
        make_variant("fair_darts", zero_one_form="l3")
    with pytest.raises(ValueError, match="zero_one_weight"):
        make_variant("fair_darts", zero_one_weight=-1.0)


def test_default_parse_is_threshold_sparse_at_085():
    variant = make_variant("fair_darts")
    assert variant.resolved_parse(DARTS_SPACE) == "threshold_sparse" and variant.threshold == 0.85


def test_indicators_record_the_zero_one_loss_in_the_configured_form():
    w = {"normal": torch.full((14, 7), 0.9), "reduce": torch.full((14, 7), 0.1)}
    assert make_variant("darts").indicators(w)["zero_one_loss"] == pytest.approx(-0.16)  # every variant: L2
    assert make_variant("fair_darts").indicators(w)["zero_one_loss"] == pytest.approx(-0.16)
    assert make_variant("fair_darts", zero_one_form="l1").indicators(w)["zero_one_loss"] == pytest.approx(-0.4)
    assert make_variant("fair_darts", zero_one_weight=0).indicators(w)["zero_one_loss"] == pytest.approx(-0.16)
