"""The search supernet: forward, parameter groups, saved alphas, fast path == plain path."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.space import DARTS_PRIMITIVES, PRIMITIVES
from fairdarts_core.supernet import SearchNetwork




C, LAYERS = 4, 3  # reductions at cells 1 and 2


def _weights(model: SearchNetwork, activation: str) -> dict[str, torch.Tensor]:
    out = {}
    for name, alpha in model.alphas().items():
        if activation == "sigmoid":
            out[name] = torch.sigmoid(alpha)
        elif activation == "softmax":
            out[name] = torch.softmax(alpha, dim=-1)
        else:  # raw alphas, where some are exactly 0
            out[name] = alpha
    return out


@pytest.mark.parametrize("primitives", [PRIMITIVES, DARTS_PRIMITIVES], ids=["fair", "darts"])
def test_forward_gives_logits(primitives):
    torch.manual_seed(0)
    model = SearchNetwork(init_channels=C, layers=LAYERS, primitives=primitives)
    assert model.alphas_normal.shape == (14, len(primitives))
    out = model(torch.randn(2, 3, 16, 16), _weights(model, "sigmoid"))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_parameter_groups_are_disjoint_and_cover_everything():
    model = SearchNetwork(init_channels=C, layers=LAYERS)
    arch = {id(p) for p in model.arch_parameters()}
    weight = {id(p) for p in model.weight_parameters()}
    every = {id(p) for p in model.parameters()}
    assert arch == {id(model.alphas_normal), id(model.alphas_reduce)}
    assert not arch & weight
    assert arch | weight == every
    assert len(model.weight_parameters()) == len(list(model.parameters())) - 2


def test_alphas_are_saved_and_restored():
    torch.manual_seed(0)
    model = SearchNetwork(init_channels=C, layers=LAYERS)
    with torch.no_grad():
        model.alphas_normal.normal_()
        model.alphas_reduce.normal_()
    state = model.state_dict()
    assert "alphas_normal" in state and "alphas_reduce" in state
    fresh = SearchNetwork(init_channels=C, layers=LAYERS)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.alphas_normal, model.alphas_normal)
    assert torch.equal(fresh.alphas_reduce, model.alphas_reduce)
    moved = fresh.to(torch.float64)
    assert moved.alphas_normal.dtype == torch.float64


def test_gradients_reach_alphas_and_not_through_arch_only():
    torch.manual_seed(0)
    model = SearchNetwork(init_channels=C, layers=LAYERS)
    out = model(torch.randn(2, 3, 16, 16), _weights(model, "sigmoid"))
    torch.nn.functional.cross_entropy(out, torch.tensor([1, 2])).backward()
    for alpha in model.arch_parameters():
        assert alpha.grad is not None and torch.count_nonzero(alpha.grad) > 0


def _run(fast: bool, activation: str, primitives, alphas: dict[str, torch.Tensor], x, y):
    torch.manual_seed(0)
    model = SearchNetwork(init_channels=C, layers=LAYERS, primitives=primitives, fast=fast)
    with torch.no_grad():
        model.alphas_normal.copy_(alphas["normal"])
        model.alphas_reduce.copy_(alphas["reduce"])
    out = model(x, _weights(model, activation))
    torch.nn.functional.cross_entropy(out, y).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out.detach(), grads, dict(model.named_parameters())


@pytest.mark.parametrize("primitives", [PRIMITIVES, DARTS_PRIMITIVES], ids=["fair", "darts"])
@pytest.mark.parametrize("activation", ["sigmoid", "softmax", "raw-with-zeros"])
def test_fast_path_equals_plain_path(activation, primitives):
    gen = torch.Generator().manual_seed(1)
    alphas = {name: torch.randn(14, len(primitives), generator=gen) for name in ("normal", "reduce")}
    if activation == "raw-with-zeros":
        for a in alphas.values():
            a[:, ::2] = 0.0  # ops with weight exactly 0 must still pass gradients to their alpha
    x = torch.randn(4, 3, 16, 16, generator=gen)
    y = torch.tensor([0, 3, 5, 9])
    out_fast, grads_fast, params_fast = _run(True, activation, primitives, alphas, x, y)
    out_plain, grads_plain, params_plain = _run(False, activation, primitives, alphas, x, y)
    # Same seed before construction: the same weights.
    for name in params_plain:
        assert torch.equal(params_fast[name], params_plain[name]), name
    assert torch.allclose(out_fast, out_plain, atol=1e-5, rtol=1e-5)
    assert set(grads_fast) == set(grads_plain)
    assert {"alphas_normal", "alphas_reduce"} <= set(grads_fast)
    for name in grads_plain:
        assert torch.allclose(grads_fast[name], grads_plain[name], atol=1e-5, rtol=1e-5), name
    if activation == "raw-with-zeros":
        # Every alpha, zero or not, gets a gradient (the op's output at the current input).
        # ('none' outputs zeros, so its gradient is 0 by construction.)
        for name in ("alphas_normal", "alphas_reduce"):
            live = [i for i, op in enumerate(primitives) if op != "none"]
            assert bool((grads_fast[name][:, live] != 0).all())
