"""Every registered variant plugs into the shared search loop; variant-specific behaviour."""

from __future__ import annotations

import math

import pytest
import torch

from fairdarts_core.evalnet import NetworkCIFAR
from fairdarts_core.search import SearchConfig, build_supernet, search
from fairdarts_core.space import EDGES
from variants import VARIANTS, make_variant

TINY = SearchConfig(epochs=1, batch_size=8, init_channels=4, layers=3, gap_images=16, arch_learning_rate=3e-2)
SEARCHING = [name for name, cls in VARIANTS.items() if cls.searches]


@pytest.mark.parametrize("name", SEARCHING)
def test_one_epoch_gives_finite_losses_and_a_buildable_genotype(name, tiny_set):
    variant = make_variant(name, threshold=0.5) if name == "fair_darts" else make_variant(name)
    (record,) = list(search(variant, tiny_set, TINY))
    assert math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])
    genotype = variant.parse({k: torch.tensor(v) for k, v in record["weights"].items()})
    assert genotype.to_json() == record["genotype"]
    model = NetworkCIFAR(genotype, init_channels=4, layers=3)
    logits, _ = model.eval()(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 10)


def test_unknown_variant_and_option_name_the_valid_ones():
    with pytest.raises(ValueError, match="valid: darts, fair_darts, noisy_darts, random_darts"):
        make_variant("gdas")
    with pytest.raises(ValueError, match="zero_one_weight"):
        make_variant("fair_darts", zero_one_wieght=1.0)


def test_fair_darts_weights_are_independent_sigmoids():
    variant = make_variant("fair_darts")
    alphas = torch.randn(len(EDGES), len(variant.primitives)) * 3
    weights = variant.activate(alphas)
    assert torch.all((weights > 0) & (weights < 1))
    assert not torch.allclose(weights.sum(-1), torch.ones(len(EDGES)))
    assert torch.equal(variant.init_alphas((14, 7), torch.Generator()), torch.zeros(14, 7))


def test_darts_weights_sum_to_one_per_edge():
    variant = make_variant("darts")
    weights = variant.activate(variant.init_alphas((14, 7), torch.Generator().manual_seed(0)) * 1e3)
    assert torch.allclose(weights.sum(-1), torch.ones(14))


def test_darts_with_none_adds_the_op():
    assert make_variant("darts", with_none=True).primitives[0] == "none"
    assert "none" not in make_variant("darts").primitives


def test_zero_one_loss_weight_and_softmax_ablation():
    w = {"normal": torch.full((14, 7), 0.9), "reduce": torch.full((14, 7), 0.1)}
    assert make_variant("fair_darts", zero_one_weight=0).arch_loss(w) is None
    assert make_variant("fair_darts", zero_one_weight=10).arch_loss(w).item() == pytest.approx(-10 * 0.16)
    assert make_variant("fair_darts", zero_one_form="l1").arch_loss(w).item() == pytest.approx(-10 * 0.4)
    soft = make_variant("fair_darts", use_softmax=True)
    assert soft.activation == "softmax"
    assert torch.allclose(soft.activate(torch.zeros(14, 7)).sum(-1), torch.ones(14))


def _logits(variant, train: bool, seed: int = 0):
    config = SearchConfig(init_channels=4, layers=3, seed=seed, channels_last=False)
    model = build_supernet(variant, config, 10, torch.device("cpu"))
    model.train(train)
    torch.manual_seed(123)
    x = torch.randn(4, 3, 32, 32)
    return model(x, variant.weights(model))


def test_zero_noise_gives_exactly_the_darts_logits():
    darts = _logits(make_variant("darts"), train=True)
    noisy = _logits(make_variant("noisy_darts", noise_start=0.0), train=True)
    assert torch.equal(darts, noisy)
    relative = _logits(make_variant("noisy_darts", noise_scale="relative", noise_lambda=0.0), train=True)
    assert torch.equal(darts, relative)


def test_noise_only_in_training_mode():
    assert not torch.equal(_logits(make_variant("darts"), True), _logits(make_variant("noisy_darts"), True))
    assert torch.equal(_logits(make_variant("darts"), False), _logits(make_variant("noisy_darts"), False))


def test_noise_only_on_stride_one_skips():
    variant = make_variant("noisy_darts")
    model = build_supernet(variant, SearchConfig(init_channels=4, layers=3), 10, torch.device("cpu"))
    hooked = [m for m in model.modules() if m._forward_hooks]
    assert hooked and all(type(m).__name__ == "Identity" for m in hooked)
    # Every stride-1 edge has one skip; reduction cells' stride-2 edges (from nodes 0, 1) use FactorizedReduce.
    normal_cells = sum(not c.reduction for c in model.cells)
    reduce_cells = sum(c.reduction for c in model.cells)
    assert len(hooked) == normal_cells * 14 + reduce_cells * (14 - 8)


def test_noise_schedule_decays_to_zero_at_t_max():
    variant = make_variant("noisy_darts", noise_t_max=30)
    assert variant.decay(0) == 1.0
    assert variant.decay(15) == pytest.approx(0.5)
    assert variant.decay(30) == 0.0 and variant.decay(45) == 0.0
    linear = make_variant("noisy_darts", noise_schedule="linear", noise_t_max=10)
    assert linear.decay(5) == pytest.approx(0.5)
    variant.start_epoch(30)
    model_out = variant._hook(torch.nn.Identity().train(), (), torch.ones(3))
    assert model_out is None  # no noise after T_max


def test_random_darts_respects_skips_and_flops_floor():
    variant = make_variant("random_darts", count=2, skips=2, flops_floor_m=450.0)
    genotypes = variant.sample(seed=0)
    from fairdarts_core import profile_genotype

    assert len(genotypes) == 2 and genotypes[0] != genotypes[1]
    for g in genotypes:
        assert g.skip_count("normal") == 2
        assert profile_genotype(g)["flops_m"] >= 450.0
    assert variant.sample(seed=0) == genotypes  # reproducible from the seed


def test_random_darts_does_not_search(tiny_set):
    with pytest.raises(ValueError, match="does not search"):
        next(search(make_variant("random_darts"), tiny_set, TINY))
