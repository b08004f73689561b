"""The search supernets of every space: forward, parameter groups, saved architecture parameters,
fast path == plain path, edges that hold only some ops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import build_supernet, model_weights
from fairdarts_core.spaces import SPACES, get_space
from fairdarts_core.supernet import Supernet
from variants import make_variant

C, LAYERS = 4, 3  # DARTS: reductions at cells 1 and 2


def _net(space: str, variant: str = "fair_darts", fast: bool = True, seed: int = 0, **options) -> Supernet:
    config = SearchConfig(space=space, init_channels=C, layers=LAYERS, seed=seed, channels_last=False, fast=fast)
    return build_supernet(make_variant(variant, **options), config, 10, "cpu")


@pytest.mark.parametrize("space", SPACES)
def test_forward_gives_logits(space):
    model = _net(space)
    weights = model_weights(model, make_variant("fair_darts"), get_space(space))
    for kind, w in weights.items():
        assert w.shape == (len(get_space(space).edges), len(model.primitives)), kind
    out = model(torch.randn(2, 3, 16, 16), weights)
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("space", SPACES)
def test_parameter_groups_are_disjoint_and_cover_everything(space):
    model = _net(space)
    arch = {id(p) for p in model.arch_parameters()}
    weight = {id(p) for p in model.weight_parameters()}
    assert arch == {id(p) for p in model.arch.values()} and arch
    assert not arch & weight
    assert arch | weight == {id(p) for p in model.parameters()}


@pytest.mark.parametrize("space", SPACES)
def test_arch_parameters_are_saved_restored_and_moved(space):
    model = _net(space)
    with torch.no_grad():
        for p in model.arch_parameters():
            p.normal_()
    state = model.state_dict()
    assert all(f"arch.{name}" in state for name in model.arch)
    fresh = _net(space, seed=1)
    fresh.load_state_dict(state)
    for name in model.arch:
        assert torch.equal(fresh.arch[name], model.arch[name])
    assert all(p.dtype == torch.float64 for p in fresh.to(torch.float64).arch_parameters())


@pytest.mark.parametrize("space", SPACES)
def test_gradients_reach_every_arch_parameter(space):
    model = _net(space)
    variant = make_variant("fair_darts")
    out = model(torch.randn(2, 3, 16, 16), model_weights(model, variant, get_space(space)))
    torch.nn.functional.cross_entropy(out, torch.tensor([1, 2])).backward()
    for name, alpha in model.arch.items():
        assert alpha.grad is not None and torch.count_nonzero(alpha.grad) > 0, name


def _run(space: str, fast: bool, variant_name: str, arch: dict[str, torch.Tensor], x, y):
    variant = make_variant(variant_name)
    model = _net(space, variant_name, fast=fast)
    with torch.no_grad():
        for name, value in arch.items():
            model.arch[name].copy_(value)
    out = model(x, model_weights(model, variant, get_space(space)))
    torch.nn.functional.cross_entropy(out, y).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out.detach(), grads, dict(model.named_parameters())


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("variant", ["fair_darts", "darts_v1"])
def test_fast_path_equals_plain_path(space, variant):
    gen = torch.Generator().manual_seed(1)
    shapes = {name: tuple(p.shape) for name, p in _net(space, variant).arch.items()}
    arch = {name: torch.randn(shape, generator=gen) for name, shape in shapes.items()}
    x = torch.randn(4, 3, 16, 16, generator=gen)
    y = torch.tensor([0, 3, 5, 9])
    out_fast, grads_fast, params_fast = _run(space, True, variant, arch, x, y)
    out_plain, grads_plain, params_plain = _run(space, False, variant, arch, x, y)
    for name in params_plain:  # the same seed before construction: the same weights
        assert torch.equal(params_fast[name], params_plain[name]), name
    assert torch.allclose(out_fast, out_plain, atol=1e-5, rtol=1e-5)
    assert set(grads_fast) == set(grads_plain)
    assert {f"arch.{name}" for name in shapes} <= set(grads_fast)
    for name in grads_plain:
        assert torch.allclose(grads_fast[name], grads_plain[name], atol=1e-5, rtol=1e-5), name


def test_ops_with_weight_exactly_zero_still_pass_gradients():
    variant = make_variant("darts_v1")
    model = _net("darts", "darts_v1")
    weights = {k: w.detach().clone().requires_grad_(True) for k, w in
               model_weights(model, variant, get_space("darts")).items()}
    for w in weights.values():
        with torch.no_grad():
            w[:, ::2] = 0.0
    out = model(torch.randn(2, 3, 16, 16), weights)
    torch.nn.functional.cross_entropy(out, torch.tensor([1, 2])).backward()
    live = [i for i, op in enumerate(model.primitives) if op != "none"]
    for w in weights.values():
        assert bool((w.grad[:, live] != 0).all())  # 'none' outputs zeros: its gradient is 0


def test_edges_holding_some_ops_build_only_those_and_weigh_the_rest_zero():
    space = get_space("darts")
    variant = make_variant("darts_v1")
    primitives = variant.primitives(space)
    keep = {"normal": (("skip_connect", "sep_conv_3x3"),) * 14, "reduce": (("max_pool_3x3",),) * 14}
    masks = space.op_masks(primitives, keep)
    model = space.supernet(primitives, 10, C, LAYERS, masks, variant.mixed_op(), fast=True)
    for name, shape in variant.arch_shapes(space, primitives).items():
        model.arch[name] = torch.nn.Parameter(torch.randn(shape))
    weights = model_weights(model, variant, space)
    normal_cols = [primitives.index(op) for op in keep["normal"][0]]
    assert torch.allclose(weights["normal"][:, normal_cols].sum(-1), torch.ones(14))
    assert int((weights["normal"] > 0).sum()) == 28 and bool((weights["reduce"].sum(-1) == 1).all())
    for cell in model.cells:
        for mixed in cell.ops:
            assert mixed.op_names == (keep["reduce"][0] if cell.reduction else keep["normal"][0])
    out = model(torch.randn(2, 3, 16, 16), weights)
    torch.nn.functional.cross_entropy(out, torch.tensor([1, 2])).backward()
    grad = model.arch["alphas_normal"].grad
    unheld = np.setdiff1d(np.arange(len(primitives)), normal_cols)
    assert torch.count_nonzero(grad[:, unheld]) == 0 and torch.count_nonzero(grad[:, normal_cols]) > 0
