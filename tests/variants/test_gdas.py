"""GDAS: the hard Gumbel-softmax sample, its tau schedule, the single-path edge, the published search, and a
search step against the official code's numbers.

tests/fixtures/gdas_official.json, written by tests/fixtures/gdas_official_record.py (its docstring says how):
the official NB201 TinyNetworkGDAS (D-X-Y/AutoDL-Projects@f46486e; C=4, N=1, float64, CPU), filled by `_fill`
below, its forward logits under torch.manual_seed(11), and one iteration of GDAS.py's search_func under
torch.manual_seed(12). Our SearchRun replays both on the same weights, inputs and seeds; both draw the noise as
`torch.empty_like(alpha).exponential_()` from the global generator, once per forward, so the samples match.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import variants.gdas as gdas
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import SearchRun
from fairdarts_core.sizes import PRESETS
from fairdarts_core.spaces import get_space
from fairdarts_core.spaces.darts import search_op as darts_op
from fairdarts_core.spaces.nb201 import search_op as nb201_op
from fairdarts_core.variant import Progress
from tests.fixtures.filled import batch, fill, state_tensors
from variants import make_variant

OFFICIAL = json.loads((Path(__file__).parents[1] / "fixtures" / "gdas_official.json").read_text())
NB201, DARTS = get_space("nb201"), get_space("darts")
NB201_OPS = list(enumerate(NB201.op_set()))


def _progress(epoch, epochs):
    return Progress(0, 1, epoch, epochs, epoch, epochs)


# ----- the sample and its temperature -------------------------------------------------------------------
def test_tau_decays_linearly_from_tau_max_to_tau_min_over_the_epochs():
    variant = make_variant("gdas")
    taus = [variant.tau(_progress(e, 250)) for e in range(250)]
    assert taus[0] == 10.0 and taus[-1] == pytest.approx(0.1) and taus[124] == pytest.approx(10 - 9.9 * 124 / 249)
    assert variant.tau(None) == 10.0 and variant.tau(_progress(0, 1)) == 10.0
    assert make_variant("gdas", tau_max=2.0, tau_min=1.0).tau(_progress(1, 2)) == 1.0
    with pytest.raises(ValueError, match="tau_min"):
        make_variant("gdas", tau_min=0.0)


def test_train_weights_are_one_hot_in_value_and_carry_the_softmax_gradient():
    variant = make_variant("gdas")
    alpha = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(0)
    hard = variant.train_weights({"alphas_cell": alpha}, NB201, _progress(0, 4))["cell"]
    torch.testing.assert_close(hard.detach().sum(-1), torch.ones(6, dtype=torch.float64), rtol=0, atol=1e-15)
    assert torch.equal((hard.detach() != 0).sum(-1), torch.ones(6, dtype=torch.long))
    (hard * torch.arange(5.0, dtype=torch.float64)).sum().backward()
    assert (alpha.grad != 0).all()  # straight through: the gradient of the tempered softmax reaches every alpha
    assert torch.equal(variant.weights({"alphas_cell": alpha}, NB201)["cell"], alpha.softmax(-1))  # weights(): softmax


def test_darts_spaces_keep_only_the_sampled_weight_differentiable():
    """search_model_gdas_nasnet.py: the edge is op(x) * hardwts[index]; the other weights take no part."""
    variant = make_variant("gdas")
    arch = {f"alphas_{k}": torch.randn(14, 8, requires_grad=True) for k in ("normal", "reduce")}
    torch.manual_seed(1)
    w = variant.train_weights(arch, DARTS, None)
    torch.manual_seed(1)
    ref = {k: gdas.gumbel_one_hot(arch[f"alphas_{k}"], 10.0) for k in ("normal", "reduce")}  # normal first
    for k, (hard, one_hot) in ref.items():
        assert torch.equal(w[k], hard * one_hot)
        assert torch.equal(torch.autograd.grad(w[k].sum(), arch[f"alphas_{k}"])[0],
                           torch.autograd.grad((hard * one_hot).sum(), arch[f"alphas_{k}"])[0])


def test_a_draw_with_an_infinite_gumbel_value_is_drawn_again(monkeypatch):
    draws = []
    real = torch.Tensor.exponential_

    def exponential_(self, *args, **kwargs):
        draws.append(1)
        return self.zero_() if len(draws) == 1 else real(self, *args, **kwargs)  # -log(0) = inf first

    monkeypatch.setattr(torch.Tensor, "exponential_", exponential_)
    hard, one_hot = gdas.gumbel_one_hot(torch.zeros(3, 4), 1.0)
    assert len(draws) == 2 and torch.isfinite(hard).all() and torch.equal(one_hot.sum(-1), torch.ones(3))


# ----- the single path -----------------------------------------------------------------------------------
def _counted_edge(build, ops, stride=1, channels=4):
    edge = gdas.SampledOp(build, channels, stride, ops).double()
    calls = [0] * len(ops)
    for i, op in enumerate(edge.ops):
        op.register_forward_hook(lambda m, inp, out, i=i: calls.__setitem__(i, calls[i] + 1))
    return edge, calls


def test_only_the_sampled_op_runs_and_the_zero_weights_get_the_output_gradient_sum():
    edge, calls = _counted_edge(nb201_op, NB201_OPS)
    alpha = torch.randn(5, dtype=torch.float64, requires_grad=True)
    row = torch.zeros(5, dtype=torch.float64)
    row[3] = 1.0
    row = row - alpha.softmax(-1).detach() + alpha.softmax(-1)  # straight-through, column 3 (nor_conv_3x3)
    row.retain_grad()
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    probe = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    out = edge(x, row)
    assert calls == [0, 0, 0, 1, 0]
    torch.testing.assert_close(out, edge.ops[3](x) * row[3], rtol=0, atol=0)
    (out * probe).sum().backward()
    # NAS201SearchCell.forward_gdas: sum(w[i] * edge_i(x) if i == index else w[i]): the others get sum(grad).
    expected = torch.full((5,), probe.sum().item(), dtype=torch.float64)
    expected[3] = (probe * edge.ops[3](x)).sum()
    torch.testing.assert_close(row.grad, expected)
    assert (alpha.grad != 0).all()
    grads = [p.grad for p in edge.parameters()]
    assert all(p.grad is not None for p in edge.ops[3].parameters())
    assert sum(g is None for g in grads) == len(list(edge.ops[2].parameters()))  # the 1x1 conv: untouched


def test_soft_rows_give_the_argmax_op_times_its_weight_and_empty_rows_zeros():
    edge, calls = _counted_edge(darts_op, list(enumerate(DARTS.op_set(True))), stride=2, channels=4)
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    row = torch.tensor([0.1, 0.1, 0.1, 0.1, 0.3, 0.1, 0.1, 0.1], dtype=torch.float64)
    out = edge(x, row)
    assert calls == [0, 0, 0, 0, 1, 0, 0, 0]
    torch.testing.assert_close(out, edge.ops[4](x) * 0.3, rtol=0, atol=0)
    zeros = edge(x, torch.zeros(8, dtype=torch.float64))  # the argmax column 0 is 'none'
    assert zeros.shape == (2, 4, 4, 4) and not zeros.any()


def test_darts_supernet_is_the_official_nasnet_forward_gdas_written_out():
    """search_model_gdas_nasnet.py: per forward one sample per cell kind (normal first); node i sums
    op_index(h_j) * hardwts[index] over its edges (MixedOp.forward_gdas). Output and alpha gradients."""
    variant = make_variant("gdas")
    torch.set_default_dtype(torch.float64)
    try:
        run = SearchRun(variant, SearchConfig(init_channels=4, layers=3, channels_last=False))
        run.start_stage(10)
    finally:
        torch.set_default_dtype(torch.float32)
    model = run.model
    with torch.no_grad():
        for p in model.arch.values():
            p.normal_()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    torch.manual_seed(5)
    ours = model(x, run.train_weights())
    grads = torch.autograd.grad(ours.sum(), model.arch_parameters())

    torch.manual_seed(5)
    sample = {k: gdas.gumbel_one_hot(model.arch[f"alphas_{k}"], 10.0)[0] for k in ("normal", "reduce")}
    s0 = s1 = model.stem(x)
    for cell in model.cells:
        hard = sample["reduce" if cell.reduction else "normal"]
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        for _, lo, hi in DARTS.node_rows():
            index = hard[lo:hi].argmax(-1).tolist()
            states.append(sum(cell.ops[lo + j].ops[index[j]](h) * hard[lo + j, index[j]] for j, h in enumerate(states)))
        s0, s1 = s1, torch.cat(states[2:], dim=1)
    official = model.classifier(model.global_pooling(s1).flatten(1))
    torch.testing.assert_close(ours, official, rtol=0, atol=1e-12)
    for g, ref in zip(grads, torch.autograd.grad(official.sum(), model.arch_parameters()), strict=True):
        torch.testing.assert_close(g, ref, rtol=1e-10, atol=1e-12)


# ----- the published search --------------------------------------------------------------------------------
def test_paper_preset_is_the_published_nb201_gdas_search():
    c = PRESETS["paper"].search_config(make_variant("gdas"))
    assert (c.epochs, c.batch_size, c.learning_rate, c.learning_rate_min, c.momentum) == (250, 64, 0.025, 0.001, 0.9)
    assert (c.nesterov, c.weight_decay, c.grad_clip, c.order, c.weight_step_first) == (True, 5e-4, 5.0, "first", True)
    assert (c.arch_learning_rate, c.arch_beta1, c.arch_beta2, c.arch_weight_decay) == (3e-4, 0.5, 0.999, 1e-3)
    nb = PRESETS["paper"].search_config(make_variant("gdas"), {"space": "nb201"})
    assert (nb.init_channels, nb.layers, nb.nesterov, nb.weight_decay) == (16, 5, True, 5e-4)
    assert make_variant("gdas").primitives(DARTS)[0] == "none" and len(make_variant("gdas").primitives(DARTS)) == 8


# ----- against the official code ------------------------------------------------------------------------
def _inputs(seed):
    return batch(seed, OFFICIAL["batch"], OFFICIAL["side"], OFFICIAL["num_classes"])


def _run(fast):
    config = SearchConfig(space="nb201", epochs=OFFICIAL["epochs"], init_channels=OFFICIAL["C"], layers=OFFICIAL["N"],
                          learning_rate=0.025, learning_rate_min=0.001, momentum=0.9, nesterov=True, weight_decay=5e-4,
                          grad_clip=5.0, arch_learning_rate=3e-4, arch_beta1=0.5, arch_beta2=0.999,
                          arch_weight_decay=1e-3, weight_step_first=True, channels_last=False, fast=fast)
    torch.set_default_dtype(torch.float64)
    try:
        run = SearchRun(make_variant("gdas"), config)
        run.start_stage(OFFICIAL["num_classes"])
    finally:
        torch.set_default_dtype(torch.float32)
    assert [list(t.shape) for _, t in state_tensors(run.model)] == OFFICIAL["filled"]
    fill(run.model, 1)
    with torch.no_grad():
        run.model.arch["alphas_cell"].copy_(torch.tensor(OFFICIAL["alpha"], dtype=torch.float64))
    run.progress = _progress(OFFICIAL["epoch"], OFFICIAL["epochs"])
    assert run.variant.tau(run.progress) == OFFICIAL["tau"]
    return run


def _sampled(monkeypatch):
    drawn = []
    real = gdas.gumbel_one_hot

    def spy(alpha, tau):
        hard, one_hot = real(alpha, tau)
        drawn.append(one_hot.argmax(-1).tolist())
        return hard, one_hot

    monkeypatch.setattr(gdas, "gumbel_one_hot", spy)
    return drawn


@pytest.mark.parametrize("fast", [True, False])
def test_forward_and_one_search_step_match_the_official_gdas(fast, monkeypatch):
    drawn = _sampled(monkeypatch)
    run = _run(fast)
    model, alpha = run.model, run.model.arch["alphas_cell"]
    torch.manual_seed(OFFICIAL["forward"]["seed"])
    with torch.no_grad():
        logits = model(_inputs(3)[0], run.train_weights())
    assert drawn == [OFFICIAL["forward"]["sampled"]]
    torch.testing.assert_close(logits, torch.tensor(OFFICIAL["forward"]["logits"], dtype=torch.float64),
                               rtol=0, atol=1e-10)

    step = OFFICIAL["step"]
    drawn.clear()
    torch.manual_seed(step["seed"])
    result = run.step(_inputs(3), _inputs(4))  # weight step first, then the arch step, as search_func
    assert drawn == step["sampled"]
    assert step["clip_norm_with_alpha"] < 5  # the official clip counts alpha's gradient too; it did not clip here
    assert result.train_loss.item() == pytest.approx(step["base_loss"], abs=1e-10)
    assert result.val_loss.item() == pytest.approx(step["arch_loss"], abs=1e-10)
    torch.testing.assert_close(alpha.grad, torch.tensor(step["alpha_grad"], dtype=torch.float64), rtol=0, atol=1e-10)
    torch.testing.assert_close(alpha.detach(), torch.tensor(step["alpha_after"], dtype=torch.float64), rtol=0, atol=1e-10)
    ours = []
    for i, p in enumerate(model.weight_parameters()):
        probe = torch.randn(p.shape, generator=torch.Generator().manual_seed(100 + i), dtype=torch.float64)
        ours.append([p.sum().item(), p.abs().sum().item(), (p * probe).sum().item()])
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(step["weights_after"], dtype=torch.float64),
                               rtol=1e-10, atol=1e-10)
    genotype = run.variant.parse({k: w.detach() for k, w in run.weights().items()}, NB201, run.primitives)
    assert genotype.to_string() == OFFICIAL["genotype_after"]


def test_the_weight_step_leaves_the_ops_it_did_not_sample_untouched():
    """The official loss.backward() gives them no gradient, so SGD (torch 2: grads set to None) skips them."""
    run = _run(True)
    before = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    torch.manual_seed(3)
    hard = run.train_weights()["cell"]
    torch.manual_seed(3)
    run.weight_step(_inputs(3))
    for e, col in enumerate(hard.argmax(-1).tolist()):
        for k, op in enumerate(run.model.cells[0].edges[e].ops):
            for name, p in op.named_parameters():
                moved = not torch.equal(p.detach(), before[f"cells.0.edges.{e}.ops.{k}.{name}"])
                assert moved == (k == col), (e, k, name)
