"""PC-DARTS: partial channels with a channel shuffle, edge normalization, the warm-up, the published
hyperparameters, and our edge and cell against the official code's numbers.

tests/fixtures/pc_darts_official.json holds outputs of the official MixedOp and Cell
(yuhuixu1993/PC-DARTS@b74702f model_search.py), run outside the project at float64 on the seeded
weights and inputs that `_fill` and `_data` below replay (its "_about" entry says how).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import build_supernet
from fairdarts_core.sizes import PRESETS
from fairdarts_core.spaces import get_space
from fairdarts_core.spaces.darts import SearchCell, search_op
from fairdarts_core.variant import Progress
from variants import make_variant
from variants.pc_darts import PartialChannelOp

DARTS_SPACE = get_space("darts")
OFFICIAL = json.loads((Path(__file__).parents[1] / "fixtures" / "pc_darts_official.json").read_text())
PRIMS = make_variant("pc_darts").primitives(DARTS_SPACE)  # 'none' first, as the official PRIMITIVES
ALL_OPS = list(enumerate(PRIMS))


def _edge(ops, stride=1, channels=8, k=4, fast=True):
    return PartialChannelOp(search_op, channels, stride, ops, fast, k=k).double()


def _data(seed, *shape):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _fill(module, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return [list(p.shape) for p in module.parameters()]


# ----- partial channels -----------------------------------------------------------------------------
@pytest.mark.parametrize("fast", [True, False])
def test_first_quarter_goes_through_the_ops_and_the_shuffle_places_it_on_channels_0_and_4(fast):
    """C=8, K=4: channels 0-1 through the ops (here 0.5 * skip, plus 'none'), 2-7 bypass; the shuffle
    takes concat channel g*2+c to c*4+g: output channel i holds input channel [0,2,4,6,1,3,5,7][i]."""
    x = torch.arange(8.0, dtype=torch.float64).view(1, 8, 1, 1).repeat(2, 1, 4, 4) + 1
    row = torch.tensor([0.25, 0.0, 0.0, 0.5], dtype=torch.float64)  # none, max_pool, avg_pool, skip
    out = _edge([(0, "none"), (3, "skip_connect")], fast=fast)(x, row)
    perm = [0, 2, 4, 6, 1, 3, 5, 7]
    # Op outputs: 0.5 * x on channels 0 and 4; the bypass carries the edge's total weight (0.75, = beta_j).
    scale = torch.tensor([0.5, 0.75, 0.75, 0.75, 0.5, 0.75, 0.75, 0.75], dtype=torch.float64)
    torch.testing.assert_close(out[0, :, 0, 0], scale * (torch.tensor(perm, dtype=torch.float64) + 1))
    assert torch.equal(torch.nn.functional.channel_shuffle(x, 4), x.view(2, 4, 2, 4, 4).transpose(1, 2).flatten(1, 2))


def test_stride_two_bypass_is_a_2x2_max_pool_and_ops_see_only_their_channels():
    x = _data(0, 2, 8, 8, 8)
    out = _edge([(3, "skip_connect")], stride=2)(x, torch.tensor([0, 0, 0, 1.0], dtype=torch.float64))
    assert out.shape == (2, 8, 4, 4)
    bypass = torch.nn.functional.max_pool2d(x[:, 2:], 2, 2)  # concat channels 2..7 -> output 1,5,2,6,3,7
    torch.testing.assert_close(out[:, [1, 5, 2, 6, 3, 7]], bypass)
    edge = _edge(ALL_OPS, stride=2, channels=16)
    assert edge.mixed.ops[1][1].num_features == 4 and not edge.mixed.ops[1][1].affine  # pool -> BN(C/K)
    assert all(p.shape[0] in (2, 4) for p in edge.parameters())  # every op built with C/K = 4 channels


def test_indivisible_channels_and_odd_sizes_at_reduction_cells_are_clear_errors():
    with pytest.raises(ValueError, match="do not split into K=4"):
        _edge(ALL_OPS, channels=6)
    with pytest.raises(ValueError, match="even sizes at reduction cells"):
        _edge(ALL_OPS, stride=2)(_data(0, 2, 8, 7, 7), torch.ones(8, dtype=torch.float64) / 8)
    _edge(ALL_OPS, stride=1)(_data(0, 2, 8, 7, 7), torch.ones(8, dtype=torch.float64) / 8)  # stride 1: any size
    assert torch.equal(_edge([(3, "skip_connect")], k=1)(torch.ones(1, 8, 2, 2), torch.ones(4)), torch.ones(1, 8, 2, 2))


# ----- edge normalization ----------------------------------------------------------------------------
def _arch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {f"{p}_{k}": torch.randn(shape, generator=gen) for k in ("normal", "reduce")
            for p, shape in (("alphas", (14, 8)), ("betas", (14,)))}


def test_betas_are_declared_per_cell_kind_and_start_near_zero():
    variant = make_variant("pc_darts")
    shapes = variant.arch_shapes(DARTS_SPACE, PRIMS)
    assert shapes == {"alphas_normal": (14, 8), "alphas_reduce": (14, 8), "betas_normal": (14,), "betas_reduce": (14,)}
    model = build_supernet(variant, SearchConfig(init_channels=4, layers=3), 10, "cpu")
    assert set(model.arch) == set(shapes) and all(0 < p.abs().max() < 1e-2 for p in model.arch.values())


def test_weights_are_softmax_alpha_times_the_per_node_softmax_of_beta():
    arch = _arch()
    weights = make_variant("pc_darts").weights(arch, DARTS_SPACE)
    for kind in ("normal", "reduce"):
        beta = arch[f"betas_{kind}"]
        edge = torch.cat([beta[a:b].softmax(0) for a, b in ((0, 2), (2, 5), (5, 9), (9, 14))])  # the official slices
        torch.testing.assert_close(weights[kind], arch[f"alphas_{kind}"].softmax(-1) * edge[:, None])
        torch.testing.assert_close(weights[kind].sum(-1), edge)  # the row sum is beta_j (scales the bypass)


def _official_genotype_rule(alpha, beta):
    """model_search.py genotype(): W = softmax(alpha) * per-node softmax(beta); per node the 2 edges with the
    largest non-'none' max of W, on each the non-'none' argmax."""
    cell, start = [], 0
    for node, n in enumerate(range(2, 6)):
        w = alpha[start:start + n].softmax(-1) * beta[start:start + n].softmax(0)[:, None]
        best = sorted(range(n), key=lambda j: -w[j, 1:].max())[:2]
        cell += [(PRIMS[1 + int(w[j, 1:].argmax())], node + 2, j) for j in best]
        start += n
    return cell


def test_darts_parse_of_the_weights_is_the_official_genotype_rule():
    variant = make_variant("pc_darts")
    arch = _arch(1)
    arch["betas_normal"][0:2] = torch.tensor([-3.0, 3.0])  # node 2 would pick edges (0, 1) on alpha alone ...
    arch["alphas_normal"][0, 4], arch["alphas_normal"][1, 4] = 5.0, 2.0  # ... but beta makes edge 1 lead
    genotype = variant.parse(variant.weights(arch, DARTS_SPACE), DARTS_SPACE, PRIMS)
    for kind in ("normal", "reduce"):
        official = _official_genotype_rule(arch[f"alphas_{kind}"], arch[f"betas_{kind}"])
        assert sorted(genotype.cell(kind)[0]) == sorted(official)
    assert genotype.normal[0][2] == 1  # beta ranked edge 1 (weaker alpha) first


# ----- against the official code ------------------------------------------------------------------------
def _summary(out, wrt, expected):
    grads = torch.autograd.grad((out * _data(99, *out.shape)).sum(), wrt)
    assert list(out.shape) == expected["shape"]
    torch.testing.assert_close(out.sum().item(), expected["sum"], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(out.abs().sum().item(), expected["abs_sum"], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor(expected["first_pixel"], dtype=torch.float64),
                               rtol=1e-9, atol=1e-11)
    for g, ref in zip(grads, expected["grads"], strict=True):
        torch.testing.assert_close(g.flatten(), torch.tensor(ref, dtype=torch.float64), rtol=1e-7, atol=1e-11)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
def test_edge_matches_the_official_mixed_op(stride, fast):
    expected = OFFICIAL[f"mixed_stride{stride}"]
    edge = _edge(ALL_OPS, stride=stride, fast=fast)
    assert _fill(edge, 10 + stride) == expected["param_shapes"]
    alpha = _data(2, 8).requires_grad_()
    x = _data(1, 2, 8, 8, 8)
    if fast:
        x = x.contiguous(memory_format=torch.channels_last)
    _summary(edge(x, alpha.softmax(-1)), [alpha], expected)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("kind", ["normal", "reduce"])
def test_cell_with_edge_normalization_matches_the_official_cell(kind, fast):
    """Our cell sums edges run with softmax(alpha) * beta_j; the official one sums beta_j * MixedOp_j."""
    expected, reduction = OFFICIAL[f"cell_{kind}"], kind == "reduce"
    variant = make_variant("pc_darts")
    cell = SearchCell(8, 8, 8, reduction, False, [ALL_OPS] * 14, search_op, variant.mixed_op(), fast).double()
    assert _fill(cell, 20 + reduction) == expected["param_shapes"]
    alpha, beta = (0.1 * _data(5, 14, 8)).requires_grad_(), _data(6, 14).requires_grad_()
    weights = variant.weights({f"alphas_{kind}": alpha, f"betas_{kind}": beta,
                               **{f"{p}_{o}": _arch()[f"{p}_{o}"] for p in ("alphas", "betas")
                                  for o in ("normal", "reduce") if o != kind}}, DARTS_SPACE)[kind]
    _summary(cell(_data(3, 2, 8, 8, 8), _data(4, 2, 8, 8, 8), weights), [alpha, beta], expected)


def test_supernet_output_equals_the_official_node_sum_of_beta_times_mixed_op():
    """Whole supernet, float64: our forward (weights softmax(alpha) * beta_j) against the official
    formulation written out here, s_i = sum_j beta_j * MixedOp_j(h_j, softmax(alpha_j))."""
    variant = make_variant("pc_darts")
    torch.set_default_dtype(torch.float64)
    try:
        model = build_supernet(variant, SearchConfig(init_channels=8, layers=3, channels_last=False), 10, "cpu")
    finally:
        torch.set_default_dtype(torch.float32)
    with torch.no_grad():
        for p in model.arch.values():
            p.normal_()
    x = _data(7, 4, 3, 16, 16)
    ours = model(x, variant.weights(dict(model.arch), DARTS_SPACE))

    s0 = s1 = model.stem(x)
    for cell in model.cells:
        kind = "reduce" if cell.reduction else "normal"
        alpha, beta = model.arch[f"alphas_{kind}"].softmax(-1), model.arch[f"betas_{kind}"]
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        for _, lo, hi in DARTS_SPACE.node_rows():
            b = beta[lo:hi].softmax(0)
            states.append(sum(b[j] * cell.ops[lo + j](h, alpha[lo + j]) for j, h in enumerate(states)))
        s0, s1 = s1, torch.cat(states[2:], dim=1)
    official = model.classifier(model.global_pooling(s1).flatten(1))
    torch.testing.assert_close(ours, official, rtol=1e-10, atol=1e-12)
    assert len(model.mixed_ops()) == 3 * 14  # the inner MixedOps stay visible to skip_ops() and hooks


# ----- warm-up and hyperparameters -----------------------------------------------------------------------
def _progress(epoch, epochs):
    return Progress(0, 1, epoch, epochs, epoch, epochs)


def test_arch_steps_start_at_epoch_15_of_50():
    variant = make_variant("pc_darts")
    assert [variant.arch_step(_progress(e, 50)) for e in range(50)] == [False] * 15 + [True] * 35
    assert [variant.arch_step(_progress(e, 4)) for e in range(4)] == [False, True, True, True]  # round(1.2)
    assert all(make_variant("pc_darts", warmup_fraction=0.0).arch_step(_progress(e, 4)) for e in range(4))
    with pytest.raises(ValueError):
        make_variant("pc_darts", warmup_fraction=1.0)


def test_paper_preset_is_the_published_pc_darts_search():
    c = PRESETS["paper"].search_config(make_variant("pc_darts"))
    assert (c.epochs, c.batch_size, c.learning_rate, c.learning_rate_min, c.momentum) == (50, 256, 0.1, 0.0, 0.9)
    assert (c.weight_decay, c.grad_clip, c.init_channels, c.layers, c.order) == (3e-4, 5.0, 16, 8, "first")
    assert (c.arch_learning_rate, c.arch_beta1, c.arch_beta2, c.arch_weight_decay) == (6e-4, 0.5, 0.999, 1e-3)
    assert PRESETS["quick"].search_config(make_variant("pc_darts")).arch_learning_rate == pytest.approx(6e-4 * 30)
    assert make_variant("pc_darts").primitives(DARTS_SPACE) == PRIMS and PRIMS[0] == "none" and len(PRIMS) == 8
