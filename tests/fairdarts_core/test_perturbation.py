"""DARTS-PT's perturbation-based selection (fairdarts_core.perturbation): the projected weights, the decision
rules, the schedule, and the whole NB201 projection against the official code.

tests/fixtures/darts_pt_official.json was recorded by tests/fixtures/darts_pt_official_record.py (its docstring
says how): the official nasbench201 pt_project on a float64 TinyNetworkDartsProj (C=4, one cell per stage, 16x16
images), filled in state_dict order, with the loss criterion, proj_intv 2 and one batch per tuning epoch. Ours
runs the same supernet weights, batches and edge order and must give the same criterion value for every masked
op, the same decisions, genotype and fine-tuned alphas. tests/fixtures/darts_pt_official_darts.json (recorded by
darts_pt_official_darts_record.py) does the same for the DARTS space's sota/cnn pt_project, node step included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from fairdarts_core.perturbation import (
    ProjectedVariant,
    Projection,
    PTOptions,
    decision_order,
    gaps,
    reset_weight_optimizer,
    select,
)
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import SearchRun, make_optimizers
from fairdarts_core.spaces import get_space
from fairdarts_core.variant import Progress
from variants import make_variant

OFFICIAL = json.loads((Path(__file__).parents[1] / "fixtures" / "darts_pt_official.json").read_text())


def test_projection_fixes_decided_edges_and_masks_one_op_or_edge():
    w = {"normal": torch.full((3, 4), 0.25)}
    proj = Projection({"normal": {1: 2}}, {"normal": {2}})
    out = proj.apply(w, ("normal", 0, 3))["normal"]
    assert out.tolist() == [[0.25, 0.25, 0.25, 0.0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert proj.apply(w, ("normal", 1, None))["normal"][1].tolist() == [0, 0, 0, 0]


def test_schedules_follow_the_official_loops():
    assert gaps(17, 5, node_step=True) == [0] + [5] * 16  # DARTS: tune_epochs = 5 * 16 + 1
    assert gaps(6, 5, node_step=False) == [0, 5, 5, 5, 5, 4]  # NB201: tune_epochs = 5 * 5, last at epoch 24
    assert gaps(6, 0, node_step=False) == [0] * 6


def test_order_covers_every_edge_once_and_the_nodes_with_more_than_two_inputs():
    darts = get_space("darts")
    order = decision_order(darts, PTOptions(), seed=3)
    for kind in darts.cell_kinds:
        assert sorted(order["edges"][kind]) == list(range(14))
        assert sorted(order["nodes"][kind]) == [3, 4, 5]
    assert decision_order(darts, PTOptions(), seed=3) == order
    assert decision_order(get_space("nb201"), PTOptions(edge_order="index"), 0) == \
        {"edges": {"cell": list(range(6))}, "nodes": {"cell": []}}
    with pytest.raises(ValueError, match="proj_intv must be >= 0"):
        PTOptions(proj_intv=-1)
    with pytest.raises(ValueError, match="criterion must be one of acc, loss"):
        PTOptions(criterion="top5")


def _fill(model: nn.Module, seed: int) -> None:
    """As the recorder: every state_dict tensor but alphas and batch counters, in order. DARTS-PT's copy of the
    NB201 search cell has convs without bias (ours: bias, as xautodl's affine=False cells): ours are set to 0."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked") or "arch" in name:
                continue
            if ".edges." in name and name.endswith(".op.1.bias"):
                t.zero_()
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen, dtype=torch.float64) + 0.5)
            else:
                t.copy_(0.5 * torch.randn(t.shape, generator=gen, dtype=torch.float64))


def _batch(seed: int):
    gen = torch.Generator().manual_seed(seed)
    side, n = OFFICIAL["side"], OFFICIAL["batch"]
    return (torch.randn(n, 3, side, side, generator=gen, dtype=torch.float64),
            torch.randint(0, OFFICIAL["num_classes"], (n,), generator=gen))


def test_nb201_projection_matches_the_official_pt_project():
    a = OFFICIAL["args"]
    config = SearchConfig(space="nb201", epochs=1, init_channels=OFFICIAL["C"], layers=OFFICIAL["N"],
                          learning_rate=a["learning_rate"], momentum=a["momentum"], weight_decay=a["weight_decay"],
                          arch_learning_rate=a["arch_learning_rate"], arch_weight_decay=a["arch_weight_decay"],
                          arch_beta1=0.5, grad_clip=a["grad_clip"], fast=False, channels_last=False)
    run = SearchRun(make_variant("darts_v1"), config)
    run.start_stage(OFFICIAL["num_classes"])
    run.model.double()
    _fill(run.model, OFFICIAL["fill_seed"])
    alpha = 0.5 * torch.randn(6, 5, generator=torch.Generator().manual_seed(OFFICIAL["alpha_seed"]),
                              dtype=torch.float64)
    with torch.no_grad():
        run.model.arch["alphas_cell"].copy_(alpha)
    run.w_optimizer, run.a_optimizer, run.scheduler = make_optimizers(run.model, config, 1)
    reset_weight_optimizer(run)
    train = [_batch(s) for s in OFFICIAL["train_seeds"]]
    valid = [_batch(s) for s in OFFICIAL["valid_seeds"]]
    order = {"edges": {"cell": OFFICIAL["order"]}, "nodes": {"cell": []}}
    options = PTOptions(criterion=a["proj_crit"], proj_intv=a["proj_intv"])
    sel = select(run, options, lambda: valid, lambda t: [(train[0], valid[0])], a["proj_intv"], order,
                 Progress(0, 1, 0, 1, 0, 1))

    assert len(sel.decisions) == len(OFFICIAL["decisions"])
    worst = 0.0
    for ours, ref in zip(sel.decisions, OFFICIAL["decisions"]):
        assert ours["edge"] == ref["edge"] and ours["op_index"] == ref["op_index"]
        got = [v for c in ours["candidates"] for v in (c["acc"], c["loss"])]
        worst = max(worst, max(abs(g - r) for g, r in zip(got, [v for c in ref["candidates"] for v in c])))
        assert got == pytest.approx([v for c in ref["candidates"] for v in c], rel=0, abs=1e-10)
    print(f"largest difference of a criterion value: {worst:.2e}")
    assert sel.genotype.to_string() == OFFICIAL["genotype"]
    # the official loop tunes one more epoch after its last decision: ours after that step, as the official ends
    variant = run.variant
    run.variant = ProjectedVariant(variant, Projection({"cell": {d["edge"]: d["op_index"] for d in sel.decisions}},
                                                       {"cell": set()}))
    run.step(train[0], valid[0])
    run.variant = variant
    tol = dict(rtol=0, atol=1e-12)
    torch.testing.assert_close(run.model.arch["alphas_cell"].detach(),
                               torch.tensor(OFFICIAL["alpha_after"], dtype=torch.float64), **tol)
    torch.testing.assert_close(run.model.classifier.weight.detach(),
                               torch.tensor(OFFICIAL["classifier_after"], dtype=torch.float64), **tol)
    # the fine-tuning between decisions: the official runs one more epoch after the last decision
    assert len(sel.history) == sum(gaps(6, a["proj_intv"], node_step=False)) == 9


class _Additive(nn.Module):
    """A stand-in supernet: logits (score, 0) with score = sum over edges of c_edge * sum(op weights) + d . w, so
    that masking what contributes most hurts the loss most."""

    def __init__(self, c: torch.Tensor, d: torch.Tensor):
        super().__init__()
        self.c, self.d = c, d

    def forward(self, x, weights):
        w = weights["normal"]
        score = (self.c * w.sum(1)).sum() + (self.d * w).sum()
        return torch.stack([score, torch.zeros(())]).expand(len(x), 2)


def test_op_step_keeps_the_op_whose_removal_hurts_most_and_node_step_drops_the_least_useful_edges():
    from fairdarts_core.perturbation import _decide_node, _decide_op

    darts, prims = get_space("darts"), ("none", "a", "b", "c")
    c = torch.zeros(14)
    c[9:14] = 0.1 * torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0])  # node 5's incoming edges (sources 0..4)
    d = torch.zeros(14, 4)
    d[0] = 0.1 * torch.tensor([0.0, 1.0, 3.0, 2.0])
    model = _Additive(c, d)
    base = {"normal": torch.full((14, 4), 0.25)}
    batches = lambda: [(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long))]  # noqa: E731
    proj = Projection.empty(["normal"])
    op = _decide_op(model, proj, base, "normal", 0, {}, prims, darts, "loss", batches)
    assert op["op"] == "b" and [c["op"] for c in op["candidates"]] == list(prims)
    node = _decide_node(model, proj, base, "normal", 5, list(range(9, 14)), 2, darts, "loss", batches)
    assert [r["dropped"] for r in node["rounds"]] == [1, 3, 4] and node["kept"] == [0, 2]
    assert node["dropped_rows"] == [10, 12, 13]
    tie = _decide_node(_Additive(torch.zeros(14), torch.zeros(14, 4)), proj, base, "normal", 3, [2, 3, 4], 2, darts,
                       "acc", batches)
    assert tie["rounds"][0]["dropped"] == 2  # ties: the last edge judged is dropped, as the official `not x < y`


OFFICIAL_DARTS = json.loads((Path(__file__).parents[1] / "fixtures" / "darts_pt_official_darts.json").read_text())


def test_darts_space_projection_matches_the_official_pt_project():
    """The DARTS space (op and node steps, 17 decisions, one tuning step before each but the first): the official
    sota/cnn pt_project (tests/fixtures/darts_pt_official_darts_record.py) against ours on the same weights."""
    ref, a = OFFICIAL_DARTS, OFFICIAL_DARTS["args"]
    config = SearchConfig(epochs=1, init_channels=ref["C"], layers=ref["layers"], learning_rate=a["learning_rate"],
                          momentum=a["momentum"], weight_decay=a["weight_decay"],
                          arch_learning_rate=a["arch_learning_rate"], arch_weight_decay=a["arch_weight_decay"],
                          arch_beta1=0.5, grad_clip=a["grad_clip"], fast=False, channels_last=False)
    run = SearchRun(make_variant("darts"), config)
    assert list(run.primitives) == ref["primitives"]
    run.start_stage(ref["num_classes"])
    run.model.double()
    gen = torch.Generator().manual_seed(ref["fill_seed"])
    with torch.no_grad():
        for name, t in run.model.state_dict(keep_vars=True).items():
            if "num_batches" not in name and "running" not in name and "arch" not in name:
                t.copy_(0.5 * torch.randn(t.shape, generator=gen, dtype=torch.float64))
        gen = torch.Generator().manual_seed(ref["alpha_seed"])
        for kind in ("normal", "reduce"):
            run.model.arch[f"alphas_{kind}"].copy_(0.5 * torch.randn(14, 7, generator=gen, dtype=torch.float64))
    run.w_optimizer, run.a_optimizer, run.scheduler = make_optimizers(run.model, config, 1)
    reset_weight_optimizer(run)
    side, n, k = ref["side"], ref["batch"], ref["num_classes"]
    batches = []
    for seed in ref["train_seeds"] + ref["valid_seeds"]:
        g = torch.Generator().manual_seed(seed)
        batches.append((torch.randn(n, 3, side, side, generator=g, dtype=torch.float64),
                        torch.randint(0, k, (n,), generator=g)))
    train, valid = batches
    order = {"edges": {kind: [d["edge"] for d in ref["decisions"] if d["kind"] == "op" and d["cell"] == kind]
                       for kind in ("normal", "reduce")},
             "nodes": {kind: [d["node"] for d in ref["decisions"] if d["kind"] == "node" and d["cell"] == kind]
                       for kind in ("normal", "reduce")}}
    sel = select(run, PTOptions(criterion="loss", proj_intv=1), lambda: [valid], lambda t: [(train, valid)], 1, order,
                 Progress(0, 1, 0, 1, 0, 1))

    assert len(sel.decisions) == len(ref["decisions"]) == 34
    worst = 0.0
    for ours, theirs in zip(sel.decisions, ref["decisions"]):
        assert ours["kind"] == theirs["kind"] and ours["cell"] == theirs["cell"]
        if ours["kind"] == "op":
            assert ours["edge"] == theirs["edge"] and ours["op_index"] == theirs["op_index"]
            got = [v for c in ours["candidates"] for v in (c["acc"], c["loss"])]
        else:
            rows = [r for node, lo, hi in get_space("darts").node_rows() if node == ours["node"] for r in range(lo, hi)]
            assert sorted(set(rows) - set(ours["dropped_rows"])) == sorted(theirs["kept_rows"])
            got = [v for r in ours["rounds"] for c in r["candidates"] for v in (c["acc"], c["loss"])]
        expected = [v for c in theirs["candidates"] for v in c]
        worst = max([worst] + [abs(x - y) for x, y in zip(got, expected)])
        assert got == pytest.approx(expected, rel=0, abs=1e-10)
    print(f"largest difference of a criterion value: {worst:.2e}")
    for kind in ("normal", "reduce"):
        official = sorted((op, node + 2, src) for node, pair in
                          enumerate(zip(ref["genotype"][kind][::2], ref["genotype"][kind][1::2]))
                          for op, src in pair)
        assert sorted(sel.genotype.cell(kind)[0]) == official
