"""The shared search loop: second order, single level, indicators, the fast step against the plain
one. Determinism and resume are tested for every variant in tests/variants/test_registry.py."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from fairdarts_core.data import Augment, Batches
from fairdarts_core.indicators import weight_indicators
from fairdarts_core.search import search
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import SearchRun
from fairdarts_core.sizes import PRESETS
from fairdarts_core.variant import Progress
from variants import VARIANTS, make_variant

TINY = SearchConfig(epochs=2, batch_size=8, init_channels=4, layers=3, gap_images=16, arch_learning_rate=3e-2,
                    train_limit=32)  # 32 of the 16x16 images: two weight and two arch steps an epoch


def test_resume_refuses_another_variants_checkpoint(tmp_path, search_set):
    list(search(make_variant("darts"), search_set, replace(TINY, epochs=1), out_dir=tmp_path))
    with pytest.raises(ValueError, match=r"checkpoint\.pt: checkpoint is from variant darts, not fair_darts"):
        next(search(make_variant("fair_darts"), search_set, TINY, out_dir=tmp_path, resume=True))


def test_records_are_copies_so_a_caller_that_reshapes_them_can_resume(tmp_path, search_set):
    """The pipeline pops each record's weights; the checkpoint's history keeps them, so a resume after two
    epochs replays every record whole."""
    config = replace(TINY, epochs=3)
    first = search(make_variant("darts"), search_set, config, out_dir=tmp_path)
    for _ in range(2):
        next(first).pop("weights")
    first.close()
    replayed = list(search(make_variant("darts"), search_set, config, out_dir=tmp_path, resume=True))
    assert [r.get("resumed", False) for r in replayed] == [True, True, False]
    assert all("weights" in r for r in replayed)


def test_record_indicators(search_set):
    (record,) = list(search(make_variant("darts"), search_set, replace(TINY, epochs=1, hessian_every=1)))
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
    assert weight_indicators(saturated, normalize=False)["near_01"] == pytest.approx(1.0)  # sigmoid weights
    # Softmax rows scaled by an edge weight (PC-DARTS): the fraction is taken on the normalized rows.
    scaled = {"normal": torch.tensor([[0.3] + [0.0] * 6] * 14), "reduce": torch.tensor([[0.05] * 7] * 14)}
    out = weight_indicators(scaled)
    assert out["near_01"] == pytest.approx(0.5)


def test_single_level_steps_alphas_on_train_batches(search_set):
    variant = make_variant("darts")
    records = list(search(variant, search_set, replace(TINY, epochs=1, single_level=True)))
    assert math.isnan(records[0]["val_loss"])  # no arch steps on val batches
    start = variant.activate(variant.init_arch("alphas_normal", (14, 7), torch.Generator().manual_seed(0)))
    assert not torch.allclose(torch.tensor(records[0]["weights"]["normal"]), start)


def test_second_order_search_runs(search_set):
    (record,) = list(search(make_variant("darts"), search_set, replace(TINY, epochs=1, order="second")))
    assert math.isfinite(record["val_loss"])


def test_second_order_hypergradient_matches_finite_differences(search_set):
    """Guards the unrolled DARTS gradient: d/dt L_val(w - eta * dL_train/dw(w, a + t v), a + t v) at t = 0."""
    torch.manual_seed(0)
    variant = make_variant("darts")
    config = SearchConfig(init_channels=4, layers=3, channels_last=False, seed=0)
    run = SearchRun(variant, config)
    run.start_stage(10)
    model = run.model.double()
    with torch.no_grad():
        for a in model.arch_parameters():
            a.normal_(0, 0.5)
    x_t = torch.randn(6, 3, 32, 32, dtype=torch.float64)
    y_t = torch.randint(0, 10, (6,))
    x_v = torch.randn(6, 3, 32, 32, dtype=torch.float64)
    y_v = torch.randint(0, 10, (6,))
    eta, wd = 0.1, config.weight_decay
    # A tiny hvp_scale: with DARTS' 0.01 the difference straddles ReLU / max-pool kinks on a net this small.
    grads, _ = run.unrolled_arch_grads((x_t, y_t), (x_v, y_v), eta, hvp_scale=1e-7)

    params = dict(model.named_parameters())
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    names = [n for n in params if not n.startswith("arch.")]

    def objective(alphas: dict[str, torch.Tensor]) -> float:
        def loss(p, x, y):
            weights = {k: variant.activate(p[f"arch.alphas_{k}"]) for k in ("normal", "reduce")}
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
        shifted = {f"arch.alphas_{k}": (a.detach() + sign * h * d).requires_grad_(False)
                   for k, a, d in zip(("normal", "reduce"), model.arch_parameters(), direction)}
        values.append(objective(shifted))
    numeric = (values[0] - values[1]) / (2 * h)
    analytic = sum((g * d).sum().item() for g, d in zip(grads, direction))
    assert analytic == pytest.approx(numeric, rel=1e-4)

    # The same against the exact derivative by double backward.
    def exact_loss(p, x, y):
        weights = {k: variant.activate(p[f"arch.alphas_{k}"]) for k in ("normal", "reduce")}
        return F.cross_entropy(functional_call(model, {**p, **buffers}, (x, weights)), y)

    g = torch.autograd.grad(exact_loss(params, x_t, y_t), [params[n] for n in names], create_graph=True)
    unrolled = {n: params[n] - eta * (gi + wd * params[n]) for n, gi in zip(names, g)}
    exact = torch.autograd.grad(exact_loss({**params, **unrolled}, x_v, y_v), model.arch_parameters())
    for mine, ref in zip(grads, exact):
        assert torch.allclose(mine, ref, rtol=1e-5, atol=1e-8)


def test_hessian_eigenvalue_is_finite():
    run = SearchRun(make_variant("darts"), SearchConfig(init_channels=4, layers=3))
    run.start_stage(10)
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    eig = run.hessian_eigenvalue((x, torch.randint(0, 10, (4,))), iterations=5)
    assert math.isfinite(eig)


def _one_search_step(variant, fast: bool, batches, dtype: torch.dtype) -> dict:
    """One SearchRun.step on a fresh seed-0 supernet of the fast or the plain path; what it computed."""
    (x_t, y_t), (x_v, y_v) = batches
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        config = PRESETS["smoke"].search_config(variant, {"fast": fast, "channels_last": fast, "seed": 0})
        run = SearchRun(variant, config, full_backward=not fast)
        run.start_stage(10)
    finally:
        torch.set_default_dtype(saved)
    model, a_optimizer = run.model, run.a_optimizer
    before = [a.detach().clone() for a in model.arch_parameters()]
    seen = {}
    a_optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: seen.update(arch_grads=[a.grad.clone() for a in model.arch_parameters()]))
    # The gradients the weight step used (after a weight-first step, the plain path's backward of the arch
    # loss leaves the arch loss's gradients on the weights; a single path leaves unsampled ops' at None).
    run.w_optimizer.register_step_pre_hook(lambda opt, args, kwargs: seen.update(
        weight_grads=[p.grad.clone() for p in model.weight_parameters() if p.grad is not None]))
    fmt = torch.channels_last if fast else torch.contiguous_format
    handles = variant.hooks(model, Progress(0, 1, 0, 1, 0, 1))
    torch.manual_seed(3)  # noise, dropout
    result = run.step((x_t.to(dtype).contiguous(memory_format=fmt), y_t),
                      (x_v.to(dtype).contiguous(memory_format=fmt), y_v))
    for h in handles:
        h.remove()
    return {
        "moved": max((a.detach() - b).abs().max().item() for a, b in zip(model.arch_parameters(), before)),
        "losses": [torch.stack([result.val_loss, result.train_loss])],
        "arch_grads": seen["arch_grads"],
        "alphas": [a.detach().clone() for a in model.arch_parameters()],
        "weights": [p.detach().clone() for p in model.weight_parameters()],
        "weight_grads": seen["weight_grads"],
        "buffers": [b.clone() for name, b in model.named_buffers() if "running" in name],
    }


@pytest.mark.parametrize("variant_name", VARIANTS)
def test_fast_search_step_matches_the_plain_path(variant_name):
    """One SearchRun.step on the same batches: the fast path (shared-ReLU mixed op, channels_last, gradients of
    only what each step updates) and the plain path of the official code (Python-sum mixed op, NCHW,
    loss.backward() over everything) give the same losses, arch gradients, alphas, weights, weight
    gradients and BatchNorm statistics.

    In float64, to 1e-6 relative: the computations are the same. In float32 the NCHW and channels_last
    convolutions round differently and BatchNorm's backward with batch statistics (batch 8) amplifies that
    to ~5e-3 of some weight gradients and, through the softmax's cancellation, ~5e-2 of DARTS' arch
    gradients (float64 agrees to 1e-14); so float32 is held to 1e-3 only on the losses."""
    from tests.conftest import synthetic_set

    variant = make_variant(variant_name)
    batches = list(Batches(synthetic_set(16, seed=2, size=16), 8, augment=Augment(), seed=5).epoch(0))
    fast = _one_search_step(variant, True, batches, torch.float64)
    ref = _one_search_step(variant, False, batches, torch.float64)
    for key in ("losses", "arch_grads", "alphas", "weights", "weight_grads", "buffers"):
        assert len(fast[key]) == len(ref[key]) > 0
        for a, b in zip(fast[key], ref[key]):
            assert a.dtype == torch.float64
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10, msg=lambda m, key=key: f"{key}: {m}")
    if variant.arch_step(Progress(0, 1, 0, 1, 0, 1)):  # fixed_alpha never steps its (frozen) alphas
        assert fast["moved"] > 1e-4 and ref["moved"] > 1e-4  # the step moved the alphas

    fast32 = _one_search_step(variant, True, batches, torch.float32)
    ref32 = _one_search_step(variant, False, batches, torch.float32)
    assert fast32["losses"][0].dtype == torch.float32
    torch.testing.assert_close(fast32["losses"][0], ref32["losses"][0], rtol=1e-3, atol=0.0)


@pytest.mark.parametrize("device, fast, cudnn_benchmark, keeps_memory", [
    ("cuda", True, True, False), ("cpu", True, False, True), ("cpu", False, False, False)])
def test_tune_for_sets_cudnn_benchmark_on_cuda_and_the_allocator_only_on_the_cpu_fast_path(
        monkeypatch, device, fast, cudnn_benchmark, keeps_memory):
    import fairdarts_core.search as search_module

    calls = []
    monkeypatch.setattr(search_module, "keep_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    search_module.tune_for(torch.device(device), fast)
    assert torch.backends.cudnn.benchmark is cudnn_benchmark
    assert bool(calls) is keeps_memory
