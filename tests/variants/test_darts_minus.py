"""DARTS-: an auxiliary skip on every edge, out = sum_k w_k op_k(x) + beta * aux(x), beta decaying.

The official numbers (tests/fixtures/darts_minus_official.json) were recorded by running the official
MixedOp (Meituan-AutoML/DARTS- src/search/model_search.py, with src/operations.py and the
DecayScheduler of src/utils.py, args `--auxiliary_skip --decay linear --skip_beta 1`) outside this
project, from its extracted tree under /tmp, with torch 2.14: C=4, the 8 DARTS ops (src/spaces.py
PRIMITIVES), a stride-1 and a stride-2 edge. Each edge: built in float32 after torch.manual_seed(0)
(`init_param_sums`: sum of each parameter, ops in order then aux), then in float64 every parameter
(ops in order, then aux) set to 0.5 * randn from torch.Generator seed 10 + stride, x = randn(2, 4, 8, 8)
and alpha = randn(8) from the same generator, beta = the scheduler's value at epoch 35 (0.3); output
in train mode, loss = mean(y^2) and its gradient w.r.t. alpha, then the output in eval mode (running
statistics from that one train pass). `schedules`: the scheduler's beta at epochs 0, 25, 35, 49 of 50.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fairdarts_core.mixed_op import MixedOp
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import build_supernet, model_weights
from fairdarts_core.spaces import get_space
from fairdarts_core.spaces.darts import DARTS_PRIMITIVES, search_op
from fairdarts_core.variant import Progress
from variants import make_variant
from variants.darts_minus import AuxSkipMixedOp

OFFICIAL = json.loads((Path(__file__).parents[1] / "fixtures" / "darts_minus_official.json").read_text())
OPS = list(enumerate(DARTS_PRIMITIVES))
TINY = SearchConfig(init_channels=4, layers=3, seed=0, channels_last=False)


def _progress(epoch: int, epochs: int = 50) -> Progress:
    return Progress(0, 1, epoch, epochs, epoch, epochs)


def test_linear_beta_by_hand_and_the_official_schedules():
    variant = make_variant("darts_minus")
    assert [variant.beta(e, 50) for e in (0, 25, 49)] == [1.0, 0.5, 0.02]  # (50 - e) / 50, never 0
    assert make_variant("darts_minus", skip_beta=2.0).beta(25, 50) == 1.0
    assert make_variant("darts_minus", decay="none").beta(49, 50) == 1.0
    assert OFFICIAL["schedules"]["linear"][:2] == [1.0, 0.5]
    for decay, official in OFFICIAL["schedules"].items():
        ours = [make_variant("darts_minus", decay=decay).beta(e, 50) for e in (0, 25, 35, 49)]
        assert ours == pytest.approx(official, rel=1e-14, abs=0), decay


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
def test_mixed_op_matches_the_official_one(stride, fast):
    edge = OFFICIAL["edges"][str(stride)]
    torch.manual_seed(0)
    op = make_variant("darts_minus").mixed_op()(search_op, OFFICIAL["C"], stride, OPS, fast)
    params = [p for o in op.ops for p in o.parameters()] + list(op.aux.parameters())
    assert type(op.aux).__name__ == edge["aux"]
    assert [list(p.shape) for p in params] == edge["param_shapes"]
    # aux is built before the ops, as officially: the same seed gives the same initial weights.
    assert [p.sum().item() for p in params] == pytest.approx(edge["init_param_sums"], rel=1e-6, abs=1e-6)

    op = op.double()
    gen = torch.Generator().manual_seed(10 + stride)
    with torch.no_grad():
        for p in params:
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
    x = torch.randn(2, OFFICIAL["C"], 8, 8, generator=gen, dtype=torch.float64)
    alpha = torch.randn(len(OPS), generator=gen, dtype=torch.float64).requires_grad_()
    handles = make_variant("darts_minus").hooks(op, _progress(OFFICIAL["epoch"], OFFICIAL["epochs"]))
    assert len(handles) == 1 and make_variant("darts_minus").beta(35, 50) == OFFICIAL["beta"] == 0.3
    y = op.train()(x, torch.softmax(alpha, -1))
    loss = (y ** 2).mean()
    loss.backward()
    with torch.no_grad():
        y_eval = op.eval()(x, torch.softmax(alpha, -1))

    def close(ours, official):
        torch.testing.assert_close(ours, torch.tensor(official, dtype=torch.float64).view_as(ours),
                                   rtol=1e-10, atol=1e-12)

    close(y.detach(), edge["train"])
    close(y_eval, edge["eval"])  # the aux skip applies in eval mode too
    close(loss.detach(), edge["loss"])
    close(alpha.grad, edge["alpha_grad"])


@pytest.mark.parametrize("stride", [1, 2])
def test_beta_zero_gives_exactly_the_darts_mixed_op(stride):
    torch.manual_seed(0)
    darts = MixedOp(search_op, 4, stride, OPS)
    ours = make_variant("darts_minus", skip_beta=0.0).mixed_op()(search_op, 4, stride, OPS, True)
    ours.load_state_dict(darts.state_dict(), strict=False)  # aux keeps its own weights
    make_variant("darts_minus", skip_beta=0.0).hooks(ours, _progress(0))
    x, w = torch.randn(8, 4, 16, 16), torch.softmax(torch.randn(len(OPS)), -1)
    assert torch.equal(darts(x, w), ours(x, w))


def _logits(name: str, train: bool, epoch: int = 0, state=None, **options):
    variant = make_variant(name, **options)
    model = build_supernet(variant, TINY, 10, "cpu")
    if state is not None:
        model.load_state_dict(state, strict=False)
    handles = variant.hooks(model.train(train), _progress(epoch))
    torch.manual_seed(123)
    out = model(torch.randn(8, 3, 16, 16), model_weights(model, variant, get_space("darts")))
    for h in handles:
        h.remove()
    return model, out


def test_supernet_with_beta_zero_equals_darts_v1_and_the_aux_skip_changes_it_otherwise():
    darts, darts_out = _logits("darts_v1", True)
    _, ours = _logits("darts_minus", True, state=darts.state_dict(), skip_beta=0.0)
    assert torch.equal(darts_out, ours)
    for train in (True, False):  # beta = 0.5 at epoch 25, in training and evaluation alike
        _, plain = _logits("darts_v1", train, state=darts.state_dict())
        assert not torch.allclose(plain, _logits("darts_minus", train, 25, state=darts.state_dict())[1])


def test_aux_is_built_first_so_a_seed_gives_other_op_weights_after_stride_two_edges():
    darts = build_supernet(make_variant("darts_v1"), TINY, 10, "cpu")
    ours = build_supernet(make_variant("darts_minus"), TINY, 10, "cpu")
    assert [c.reduction for c in ours.cells] == [False, True, True]
    same = lambda a, b: all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))  # noqa: E731
    assert same(darts.stem, ours.stem) and same(darts.cells[0], ours.cells[0])  # Identity aux: no draws
    assert not same(darts.cells[1].ops[0], ours.cells[1].ops[0])  # FactorizedReduce aux drew first


def test_aux_skips_are_weights_on_every_edge_and_not_skip_ops():
    darts = build_supernet(make_variant("darts_v1"), TINY, 10, "cpu")
    ours = build_supernet(make_variant("darts_minus"), TINY, 10, "cpu")
    mixed = ours.mixed_ops()
    assert len(mixed) == 3 * 14 and all(isinstance(m, AuxSkipMixedOp) for m in mixed)
    assert sum(m.stride == 2 for m in mixed) == 2 * 8  # each reduction cell's edges from its two inputs
    assert all((type(m.aux).__name__ == "FactorizedReduce") == (m.stride == 2) for m in mixed)
    aux = {id(m.aux) for m in mixed}
    assert len(ours.skip_ops()) == len(darts.skip_ops()) and not aux & {id(s) for s in ours.skip_ops()}
    noisy = make_variant("noisy_darts").hooks(ours, _progress(0))
    assert len(noisy) == len(darts.skip_ops()) and not any(m.aux._forward_hooks for m in mixed)
    aux_params = {id(p) for m in mixed for p in m.aux.parameters()}
    assert len(aux_params) == 16 * 2 and aux_params <= {id(p) for p in ours.weight_parameters()}
    assert len(make_variant("darts_minus").hooks(ours, _progress(25))) == len(mixed)
    assert make_variant("darts_minus").hooks(ours, _progress(0)) == []  # beta = 1: aux(x) as it is


def test_conv1_aux_starts_as_the_identity():
    torch.manual_seed(0)
    skip = make_variant("darts_minus").mixed_op()(search_op, 4, 1, OPS, True)
    conv1 = make_variant("darts_minus", aux_op="conv1").mixed_op()(search_op, 4, 1, OPS, True)
    conv1.load_state_dict(skip.state_dict(), strict=False)
    x, w = torch.randn(2, 4, 8, 8), torch.softmax(torch.randn(len(OPS)), -1)
    torch.testing.assert_close(skip(x, w), conv1(x, w))
    assert len(list(conv1.aux.parameters())) == 1


def test_settings_op_sets_and_the_s3_space():
    variant = make_variant("darts_minus")
    assert variant.paper_search == make_variant("darts_v1").paper_search  # DARTS: 50 epochs, batch 64, ...
    assert variant.paper_search["arch_beta1"] == 0.5 and variant.paper_search["order"] == "first"
    assert variant.primitives(get_space("darts")) == DARTS_PRIMITIVES  # 'skip_connect' and 'none' stay
    s3 = get_space("s3")
    variant.check_space(s3)
    model = build_supernet(variant, SearchConfig(space="s3", init_channels=4, layers=3), 10, "cpu")
    assert model.primitives == ("none", "skip_connect", "sep_conv_3x3")
    assert all(isinstance(m, AuxSkipMixedOp) for m in model.mixed_ops()) and len(model.mixed_ops()) == 42
