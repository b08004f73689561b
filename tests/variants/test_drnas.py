"""DrNAS: Dirichlet weights sampled at every step, the KL regularizer, partial channels, the per-space
official settings and the progressive stages (pruning, widening); our search step and widening against the
official code's numbers.

tests/fixtures/drnas_official.json holds outputs of the official NB201 TinyNetwork and DARTS-space
Network (xiangning-chen/DrNAS@f2caa4d), recorded by tests/fixtures/drnas_official_record.py outside the
project at float64 on the seeded weights, inputs and Dirichlet draws that `_run` below replays (its
"_about" entry says how): the train-mode logits, the KL regularizer, and after one search step (arch step,
then weight step) the alphas, a checksum of every weight and the genotype; and each DARTS op widened from
4 to 6 channels by its official wider() (net2wider.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.distributions import Dirichlet

from fairdarts_core.search import search
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import SearchRun
from fairdarts_core.sizes import PRESETS
from fairdarts_core.spaces import get_space
from fairdarts_core.spaces.darts import search_op
from fairdarts_core.variant import Progress
from variants import make_variant
from variants.drnas import dirichlet_sample, kl_to_uniform, partial_channel_op, widen_op
from variants.pc_darts import PartialChannelOp

OFFICIAL = json.loads((Path(__file__).parents[1] / "fixtures" / "drnas_official.json").read_text())


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _batch(seed):
    g = _gen(seed)
    shape = (OFFICIAL["batch"], 3, OFFICIAL["side"], OFFICIAL["side"])
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randint(0, OFFICIAL["classes"], (OFFICIAL["batch"],), generator=g)


# ----- mechanics ----------------------------------------------------------------------------------------
def test_weights_are_softmax_and_the_steps_draw_a_fresh_dirichlet_sample():
    space, variant = get_space("nb201"), make_variant("drnas")
    arch = {"alphas_cell": torch.randn(6, 5, generator=_gen(0), dtype=torch.float64).requires_grad_()}
    torch.testing.assert_close(variant.weights(arch, space)["cell"], arch["alphas_cell"].softmax(-1))
    torch.manual_seed(1)
    a = variant.train_weights(arch, space, None)["cell"]
    b = variant.train_weights(arch, space, None)["cell"]
    torch.manual_seed(1)
    beta = torch.nn.functional.elu(arch["alphas_cell"]) + 1
    torch.testing.assert_close(a, Dirichlet(beta).rsample(), rtol=0, atol=1e-15)  # official: elu(alpha) + 1
    assert not torch.equal(a, b) and torch.allclose(a.sum(-1), torch.ones(6, dtype=torch.float64))
    a.pow(2).sum().backward()
    assert arch["alphas_cell"].grad.abs().sum() > 0  # pathwise gradient


def test_masked_ops_get_weight_zero_and_the_rows_are_renormalized():
    alphas = torch.randn(3, 4, generator=_gen(2), dtype=torch.float64)
    held = torch.tensor([[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 0, 1]], dtype=torch.bool)
    torch.manual_seed(3)
    w = dirichlet_sample(alphas.masked_fill(~held, float("-inf")))
    torch.manual_seed(3)
    full = Dirichlet(torch.where(held, torch.nn.functional.elu(alphas) + 1, torch.ones_like(alphas))).rsample() * held
    torch.testing.assert_close(w, full / full.sum(-1, keepdim=True))  # the official masked process_step_vector
    assert (w[~held] == 0).all() and torch.allclose(w.sum(-1), torch.ones(3, dtype=torch.float64))


def test_kl_regularizer_is_the_kl_to_the_flat_dirichlet_and_only_when_asked():
    space = get_space("darts")
    arch = {f"alphas_{k}": torch.zeros(14, 7) for k in space.cell_kinds}
    assert make_variant("drnas").arch_param_loss(arch, space) is None  # l2: the arch Adam's weight decay
    kl = make_variant("drnas", reg_type="kl", reg_scale=0.5)
    assert kl.arch_param_loss(arch, space).item() == pytest.approx(0.0, abs=1e-6)  # beta = 1: the anchor itself
    arch["alphas_normal"] = arch["alphas_normal"] + 1.0
    assert kl.arch_param_loss(arch, space).item() == pytest.approx(0.5 * kl_to_uniform(arch["alphas_normal"]).item())


def test_official_settings_per_space_and_partial_channels():
    darts, nb201 = (make_variant("drnas").in_space(get_space(s)) for s in ("darts", "nb201"))
    assert (darts.partial_k, darts.warmup_fraction, nb201.partial_k, nb201.warmup_fraction) == ((6, 4), 0.4, (1,), 0.0)
    assert make_variant("drnas", partial_k=[2]).in_space(get_space("darts")).partial_k == (2,)
    assert [st.epochs for st in darts.plan(50, 20, get_space("darts"))] == [25, 25]
    assert [st.epochs for st in make_variant("drnas").plan(100, 5, get_space("nb201"))] == [100]
    assert make_variant("drnas").in_space(get_space("s2")).partial_k == (6,)  # 2 ops: one stage
    with pytest.raises(ValueError, match="num_keep needs an entry"):
        make_variant("drnas", partial_k=(6, 4, 2))
    with pytest.raises(ValueError, match="more than 4 ops per edge"):
        make_variant("drnas", partial_k=(6, 4)).check_space(get_space("s2"))
    assert len(make_variant("drnas").primitives(get_space("darts"))) == 7  # no 'none'
    assert [darts.arch_step(Progress(0, 1, e, 25, e, 25)) for e in (9, 10)] == [False, True]
    assert nb201.arch_step(Progress(0, 1, 0, 100, 0, 100))
    for channels, k in ((36, 6), (72, 6), (8, 4), (4, 4), (3, 3)):
        op = partial_channel_op(lambda n, c, s: torch.nn.Identity(), channels, 1, [(0, "skip_connect")], k=6)
        assert isinstance(op, PartialChannelOp) and op.k == k and not op.scale_bypass
    paper = {s: PRESETS.get("paper").search_config(make_variant("drnas"), {"space": s}) for s in ("darts", "nb201")}
    assert (paper["nb201"].epochs, paper["nb201"].nesterov, paper["nb201"].weight_decay, paper["nb201"].learning_rate,
            paper["nb201"].weight_step_first, paper["nb201"].arch_learning_rate) == (100, False, 3e-4, 0.025, False, 3e-4)
    assert (paper["darts"].epochs, paper["darts"].layers, paper["darts"].init_channels, paper["darts"].learning_rate,
            paper["darts"].arch_learning_rate, paper["darts"].arch_beta1) == (50, 20, 36, 0.1, 6e-4, 0.5)
    smoke = PRESETS.get("smoke").search_config(make_variant("drnas"), {"space": "nb201"})
    assert (smoke.epochs, smoke.init_channels, smoke.nesterov) == (2, 4, False)  # sizes stay the preset's


# ----- against the official code ------------------------------------------------------------------------
def _run(space, fast):
    """Our search at the official test's sizes, filled as the recorder fills the official network."""
    ref = OFFICIAL[space]
    step = ref["step"]
    kl = step["reg_type"] == "kl"
    config = SearchConfig(space=space, init_channels=4 if space == "nb201" else 6, layers=1 if space == "nb201" else 3,
                          learning_rate=step["lr"], learning_rate_min=0.0, momentum=step["momentum"],
                          weight_decay=step["weight_decay"], grad_clip=step["grad_clip"],
                          arch_learning_rate=step["arch_learning_rate"], arch_beta1=0.5, arch_beta2=0.999,
                          arch_weight_decay=0.0 if kl else step["reg_scale"], channels_last=False, fast=fast)
    run = SearchRun(make_variant("drnas", reg_type=step["reg_type"], reg_scale=step["reg_scale"]), config)
    run.start_stage(OFFICIAL["classes"])
    model = run.model.double()
    params = [(n, p) for n, p in model.named_parameters() if not n.startswith("arch.")]
    # NB201: our convs carry a bias (xautodl: bias = not affine), DrNAS's none; before a BN of batch
    # statistics it is a no-op, set to 0 here.
    biases = [p for n, p in params if space == "nb201" and n.endswith(".bias") and ".op.1." in n]
    params = [(n, p) for n, p in params if all(p is not b for b in biases)]
    assert [list(p.shape) for _, p in params] == ref["filled"]
    g = _gen(1)
    with torch.no_grad():
        for _, p in params:
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))
        for b in biases:
            b.zero_()
        alphas = [ref["alpha"]] if space == "nb201" else ref["alphas"]
        for kind, a in zip(run.space.cell_kinds, alphas):
            model.arch[f"alphas_{kind}"].copy_(torch.tensor(a, dtype=torch.float64))
    return run, params


def _checksums(params):
    g = _gen(7)
    return [(p.detach() * torch.randn(p.shape, generator=g, dtype=torch.float64)).sum().item() for _, p in params]


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_search_step_matches_the_official_code(space, fast):
    ref = OFFICIAL[space]
    run, params = _run(space, fast)
    model = run.model
    model.train()
    train, val = _batch(3), _batch(4)
    torch.manual_seed(5)  # the Dirichlet draws: ours one (edges, ops) matrix per kind, the official row by row
    logits = model(train[0], run.train_weights())
    torch.testing.assert_close(logits.detach(), torch.tensor(ref["logits"], dtype=torch.float64), rtol=1e-10, atol=1e-10)
    reg = make_variant("drnas", reg_type="kl", reg_scale=1e-3).arch_param_loss(model.arch, run.space)
    assert reg.item() == pytest.approx(ref["kl"], rel=1e-12)

    torch.manual_seed(6)
    run.step(train, val)  # arch step (val batch), then weight step (train batch), as train_search.py
    after = [ref["alpha_after"]] if space == "nb201" else ref["alphas_after"]
    for kind, a in zip(run.space.cell_kinds, after):
        torch.testing.assert_close(model.arch[f"alphas_{kind}"].detach(), torch.tensor(a, dtype=torch.float64),
                                   rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(torch.tensor(_checksums(params), dtype=torch.float64),
                               torch.tensor(ref["checksums_after"], dtype=torch.float64),
                               rtol=1e-10, atol=1e-10)
    genotype = run.variant.parse(run.weights(), run.space, run.primitives)
    if space == "nb201":
        assert genotype.to_string() == ref["genotype_after"]
    else:
        for kind in ("normal", "reduce"):
            official = {(op, 2 + i // 2, src) for i, (op, src) in enumerate(ref["genotype_after"][kind])}
            assert set(genotype.cell(kind)[0]) == official


@pytest.mark.parametrize("key", sorted(OFFICIAL["wider"]))
def test_widened_ops_match_the_official_wider(key):
    """The same random channels (torch.randint in the same order) copied the same way, op by op."""
    name, stride = key.split("/")
    ref = OFFICIAL["wider"][key]
    old, new = (search_op(name, c, int(stride)).double() for c in (4, 6))
    g = _gen(1)
    with torch.no_grad():
        for p in old.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    plan = widen_op(old, new, "", "", _gen(8))
    olds = {**dict(old.named_parameters()), **dict(old.named_buffers())}
    mine = [(n, t) for n, t in new.state_dict().items() if not n.endswith("num_batches_tracked")]
    with torch.no_grad():
        for n, t in mine:
            source, fn = plan[n][:2]
            t.copy_(fn(olds[source]))
    assert [list(t.shape) for _, t in mine] == ref["shapes"]
    torch.testing.assert_close(torch.tensor(_checksums(mine), dtype=torch.float64),
                               torch.tensor(ref["checksums"], dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_second_stage_prunes_to_four_ops_and_takes_over_the_widened_supernet():
    run = SearchRun(make_variant("drnas"), SearchConfig(init_channels=12, layers=3, epochs=2, channels_last=False,
                                                        arch_learning_rate=0.1))
    run.start_stage(10, 0)
    with torch.no_grad():
        for a in run.model.arch_parameters():
            a.copy_(torch.randn(a.shape, generator=_gen(3)))
    run.progress = None
    x, y = _batch(3)
    run.step((x.float(), y), (x.float(), y))
    old, old_w, old_a = run.model, run.w_optimizer, run.a_optimizer
    alphas = {k: v.detach().clone() for k, v in old.arch.items()}
    run.end_stage()
    run.start_stage(10, 1)
    new = run.model
    for kind in ("normal", "reduce"):
        held = new.op_masks()[kind]
        assert (held.sum(1) == 4).all()
        top = alphas[f"alphas_{kind}"].topk(4, dim=1).indices
        assert held.gather(1, top).all()  # the 4 highest alphas of every edge
        torch.testing.assert_close(new.arch[f"alphas_{kind}"].detach(), alphas[f"alphas_{kind}"] * held)
        torch.testing.assert_close(run.a_optimizer.state[new.arch[f"alphas_{kind}"]]["exp_avg"],
                                   old_a.state[old.arch[f"alphas_{kind}"]]["exp_avg"])
    assert torch.equal(new.state_dict()["stem.0.weight"], old.state_dict()["stem.0.weight"])
    edge_old, edge_new = old.cells[0].ops[0], new.cells[0].ops[0]
    assert (edge_old.k, edge_new.k, len(edge_new.mixed.ops)) == (6, 4, 4)
    col = edge_new.mixed.columns[-1]
    op_old, op_new = edge_old.mixed.ops[edge_old.mixed.columns.index(col)], edge_new.mixed.ops[-1]
    w_old, w_new = list(op_old.parameters())[0], list(op_new.parameters())[0]
    assert (w_old.shape[0], w_new.shape[0]) == (2, 3)  # C/6 -> C/4 channels
    assert torch.equal(w_new[:2], w_old) and any(torch.equal(w_new[2], w_old[c]) for c in range(2))
    buf_old, buf_new = old_w.state[w_old]["momentum_buffer"], run.w_optimizer.state[w_new]["momentum_buffer"]
    assert torch.equal(buf_new[:2], buf_old)
    run.step((x.float(), y), (x.float(), y))  # the second stage steps


def test_resume_at_the_stage_boundary_widens_as_the_uninterrupted_search(search_set, tmp_path):
    """Interrupted after stage 1's last epoch, the resumed search rebuilds stage 1 from the checkpoint and
    carries it over into stage 2 (C=12: K=6 -> 4 widens 2 -> 3 channels) as the uninterrupted one did."""
    config = SearchConfig(epochs=2, batch_size=8, init_channels=12, layers=3, train_limit=32, gap_images=8,
                          arch_learning_rate=3e-2)
    records = list(search(make_variant("drnas"), search_set, config))
    run = search(make_variant("drnas"), search_set, config, out_dir=tmp_path)
    next(run)
    run.close()
    resumed = list(search(make_variant("drnas"), search_set, config, out_dir=tmp_path, resume=True))
    assert [r.get("resumed", False) for r in resumed] == [True, False]
    assert [r["stage"] for r in records] == [0, 1]
    assert resumed[-1]["weights"] == records[-1]["weights"] and resumed[-1]["train_loss"] == records[-1]["train_loss"]
