"""The shared search loop: determinism, resume, second order, single level, indicators."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from fairdarts_core.search import SearchConfig, build_supernet, hessian_eigenvalue, search, search_config, \
    unrolled_arch_grads, weight_indicators
from variants import make_variant

TINY = SearchConfig(epochs=2, batch_size=8, init_channels=4, layers=3, gap_images=16, arch_learning_rate=3e-2)


def _final(records):
    return records[-1]["weights"], records[-1]["genotype"]


def test_same_seed_same_alphas_and_genotype(tiny_set):
    variant = make_variant("fair_darts", threshold=0.5)
    a = list(search(variant, tiny_set, TINY))
    b = list(search(variant, tiny_set, TINY))
    assert _final(a) == _final(b)
    c = list(search(variant, tiny_set, replace(TINY, seed=1)))
    assert _final(c)[0] != _final(a)[0]


@pytest.mark.parametrize("name", ["fair_darts", "noisy_darts"])
def test_resume_equals_uninterrupted(tmp_path, tiny_set, name):
    variant = make_variant(name)
    full = list(search(variant, tiny_set, TINY, out_dir=tmp_path / "full"))
    first = search(variant, tiny_set, TINY, out_dir=tmp_path / "cut")
    next(first)
    first.close()  # interrupted after epoch 0's checkpoint
    resumed = list(search(make_variant(name), tiny_set, TINY, out_dir=tmp_path / "cut", resume=True))
    assert resumed[0].get("resumed") and not resumed[1].get("resumed")
    assert [r["epoch"] for r in resumed] == [0, 1]
    assert _final(resumed) == _final(full)
    assert resumed[-1]["train_loss"] == full[-1]["train_loss"]


def test_resume_refuses_another_variants_checkpoint(tmp_path, tiny_set):
    list(search(make_variant("darts"), tiny_set, replace(TINY, epochs=1), out_dir=tmp_path))
    with pytest.raises(ValueError, match="from variant darts"):
        next(search(make_variant("fair_darts"), tiny_set, TINY, out_dir=tmp_path, resume=True))


def test_record_indicators(tiny_set):
    (record,) = list(search(make_variant("darts"), tiny_set, replace(TINY, epochs=1, hessian_every=1)))
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "zero_one_loss", "skip_normal", "skip_reduce",
                "weight_entropy", "near_01", "disc_gap", "acc_continuous", "acc_discrete", "hessian_eig"):
        assert key in record
        assert math.isfinite(record[key]), key
    assert record["disc_gap"] == pytest.approx(record["acc_continuous"] - record["acc_discrete"])
    assert record["skip_normal"] == record["genotype"].split('"reduce"')[0].count("skip_connect")


def test_weight_indicators_on_known_weights():
    uniform = {"normal": torch.full((14, 7), 1 / 7), "reduce": torch.full((14, 7), 1 / 7)}
    out = weight_indicators(uniform)
    assert out["weight_entropy"] == pytest.approx(math.log(7), rel=1e-5)
    assert out["near_01"] == pytest.approx(0.0)
    saturated = {"normal": torch.full((14, 7), 0.95), "reduce": torch.full((14, 7), 0.02)}
    assert weight_indicators(saturated)["near_01"] == pytest.approx(1.0)


def test_single_level_steps_alphas_on_train_batches(tiny_set):
    variant = make_variant("darts")
    records = list(search(variant, tiny_set, replace(TINY, epochs=1, single_level=True)))
    assert math.isnan(records[0]["val_loss"])  # no arch steps on val batches
    start = variant.activate(variant.init_alphas((14, 7), torch.Generator().manual_seed(0)))
    assert not torch.allclose(torch.tensor(records[0]["weights"]["normal"]), start)


def test_second_order_search_runs(tiny_set):
    (record,) = list(search(make_variant("darts"), tiny_set, replace(TINY, epochs=1, order="second")))
    assert math.isfinite(record["val_loss"])


def test_second_order_hypergradient_matches_finite_differences(tiny_set):
    """Guards the unrolled DARTS gradient: d/dt L_val(w - eta * dL_train/dw(w, a + t v), a + t v) at t = 0."""
    torch.manual_seed(0)
    variant = make_variant("darts")
    config = SearchConfig(init_channels=4, layers=3, channels_last=False, seed=0)
    model = build_supernet(variant, config, 10, torch.device("cpu")).double()
    with torch.no_grad():
        for a in model.arch_parameters():
            a.normal_(0, 0.5)
    x_t = torch.randn(6, 3, 32, 32, dtype=torch.float64)
    y_t = torch.randint(0, 10, (6,))
    x_v = torch.randn(6, 3, 32, 32, dtype=torch.float64)
    y_v = torch.randint(0, 10, (6,))
    eta, wd = 0.1, 3e-4
    opt = torch.optim.SGD(model.weight_parameters(), eta, momentum=0.9, weight_decay=wd)
    # A tiny hvp_scale: with DARTS' 0.01 the difference straddles ReLU / max-pool kinks on a net this small.
    grads, _ = unrolled_arch_grads(model, variant, opt, (x_t, y_t), (x_v, y_v), eta, hvp_scale=1e-7)

    params = dict(model.named_parameters())
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    names = [n for n in params if not n.startswith("alphas_")]

    def objective(alphas: dict[str, torch.Tensor]) -> float:
        def loss(p, x, y):
            weights = {k: variant.activate(p[f"alphas_{k}"]) for k in ("normal", "reduce")}
            return F.cross_entropy(functional_call(model, {**p, **buffers}, (x, weights)), y)

        p = {**params, **alphas}
        g = torch.autograd.grad(loss(p, x_t, y_t), [p[n] for n in names])
        unrolled = {n: p[n].detach() - eta * (gi + wd * p[n].detach()) for n, gi in zip(names, g)}
        with torch.no_grad():
            return loss({**unrolled, **alphas}, x_v, y_v).item()

    gen = torch.Generator().manual_seed(1)
    direction = [torch.randn(a.shape, generator=gen, dtype=torch.float64) for a in model.arch_parameters()]
    h = 1e-7  # small enough that no kink is crossed, large enough for float64 round-off
    values = []
    for sign in (1, -1):
        shifted = {f"alphas_{k}": (a.detach() + sign * h * d).requires_grad_(False)
                   for k, a, d in zip(("normal", "reduce"), model.arch_parameters(), direction)}
        values.append(objective(shifted))
    numeric = (values[0] - values[1]) / (2 * h)
    analytic = sum((g * d).sum().item() for g, d in zip(grads, direction))
    assert analytic == pytest.approx(numeric, rel=1e-4)

    # The same against the exact derivative by double backward.
    def exact_loss(p, x, y):
        weights = {k: variant.activate(p[f"alphas_{k}"]) for k in ("normal", "reduce")}
        return F.cross_entropy(functional_call(model, {**p, **buffers}, (x, weights)), y)

    g = torch.autograd.grad(exact_loss(params, x_t, y_t), [params[n] for n in names], create_graph=True)
    unrolled = {n: params[n] - eta * (gi + wd * params[n]) for n, gi in zip(names, g)}
    exact = torch.autograd.grad(exact_loss({**params, **unrolled}, x_v, y_v), model.arch_parameters())
    for mine, ref in zip(grads, exact):
        assert torch.allclose(mine, ref, rtol=1e-5, atol=1e-8)


def test_hessian_eigenvalue_is_finite():
    variant = make_variant("darts")
    model = build_supernet(variant, SearchConfig(init_channels=4, layers=3), 10, torch.device("cpu"))
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    eig = hessian_eigenvalue(model, variant, x, torch.randint(0, 10, (4,)), iterations=5)
    assert math.isfinite(eig)


def test_search_config_presets_take_the_variants_learning_rates():
    fair, darts = make_variant("fair_darts"), make_variant("darts")
    assert search_config("paper", fair).batch_size == 128
    assert search_config("paper", fair).arch_learning_rate == 3e-3
    assert search_config("paper", darts).batch_size == 64
    assert search_config("quick", fair).arch_learning_rate == pytest.approx(3e-3 * 30)
    assert search_config("quick", darts, {"epochs": 9}).epochs == 9
    with pytest.raises(ValueError, match="unknown search option"):
        search_config("quick", darts, {"epoch": 9})
    with pytest.raises(ValueError, match="unknown search preset"):
        search_config("fast", darts)
