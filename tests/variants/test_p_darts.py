"""P-DARTS: the stage plan, op pruning between stages, skip dropout, warm-up, the parse with the skip
rule; compared with the official code's outputs.

tests/fixtures/official_p_darts.json was recorded by running the official code
(chenxin061/pdarts@b880e87) outside the project: train_search.py l.168-262 verbatim (the stage-end
pruning with get_min_k / get_min_k_no_zero, the final parse and the skip-rule loop over max_sk 8..0)
on given per-stage probabilities (its F.softmax replaced by the identity, so they are the softmax(alpha)
it reads), its epoch-loop head l.146-159 (dropout rate and weight-only switch per epoch, train()
replaced by a recorder), and model_search.Network's Dropout modules counted (C=4, 5 cells). Cases:
`seeded` (softmax of numpy default_rng(0) normal logits), `seeded_skip_biased` (default_rng(1), the
normal cell's skip logit +2 at every stage, so the skip rule removes 6 skips) and `ties` (hand-made
equal op weights, edge strengths and skip weights).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fairdarts_core.search import search
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import build_supernet
from fairdarts_core.sizes import PRESETS
from fairdarts_core.spaces import get_space
from fairdarts_core.variant import Progress, Stage
from variants import make_variant

SPACE = get_space("darts")
OFFICIAL = json.loads((Path(__file__).parents[1] / "fixtures" / "official_p_darts.json").read_text())
PD = make_variant("p_darts")
PRIMS = PD.primitives(SPACE)


def _full(compact, held) -> np.ndarray:
    """Official per-edge probabilities over the ops an edge holds -> our layout over all 8 ops (0 elsewhere)."""
    w = np.zeros((len(SPACE.edges), len(PRIMS)))
    for e, ops in enumerate(held):
        w[e, [PRIMS.index(op) for op in ops]] = compact[e]
    return w


def _pairs(genotype, kind):
    return [[op, src] for op, _, src in genotype.cell(kind)[0]]


@pytest.mark.parametrize("case", OFFICIAL["cases"])
def test_pruning_parse_and_skip_rule_match_the_official_code(case):
    assert list(PRIMS) == OFFICIAL["primitives"]
    data = OFFICIAL["cases"][case]
    stage = Stage(1, 5)
    held = {kind: [PRIMS] * 14 for kind in SPACE.cell_kinds}
    for sp in range(2):
        weights = {kind: _full(data["probs"][sp][kind], held[kind]) for kind in held}
        stage = PD.between_stages(weights, stage, Stage(1, 11 + 6 * sp), SPACE, PRIMS)
        held = {kind: [list(ops) for ops in rows] for kind, rows in stage.ops}
        assert held == data["official"]["survivors"][sp]
        assert {len(ops) for rows in held.values() for ops in rows} == {(5, 3)[sp]}
    weights = {kind: _full(data["probs"][2][kind], held[kind]) for kind in held}
    masks = SPACE.op_masks(PRIMS, stage.edge_ops())
    for m in range(9):  # the official loop logs one genotype per limit; the paper's is M = 2
        genotype = PD.with_options(max_skips=m).parse(weights, SPACE, PRIMS, masks)
        official = data["official"]["genotypes"][str(m)]
        assert {kind: _pairs(genotype, kind) for kind in SPACE.cell_kinds} == official, m
        # Without masks (a record's weights, 0 on dropped ops) the same genotype.
        assert PD.with_options(max_skips=m).parse(weights, SPACE, PRIMS) == genotype


def test_the_tie_case_differs_from_the_darts_tie_rule():
    """Ties favour later edges and later ops in the official P-DARTS parse, earlier ones in DARTS'."""
    data = OFFICIAL["cases"]["ties"]
    held = data["official"]["survivors"][1]
    weights = {kind: _full(data["probs"][2][kind], held[kind]) for kind in held}
    masks = SPACE.op_masks(PRIMS, held)
    ours = PD.with_options(max_skips=8).parse(weights, SPACE, PRIMS, masks)
    darts = SPACE.parse(weights, "darts", 0.85, PRIMS, masks)
    assert _pairs(ours, "reduce") == data["official"]["genotypes"]["8"]["reduce"]
    assert _pairs(ours, "reduce")[:2] == [["dil_conv_5x5", 0], ["dil_conv_5x5", 1]]
    assert _pairs(ours, "reduce")[2:4] == [["dil_conv_5x5", 1], ["dil_conv_5x5", 2]]  # node 3: edges 1, 2 of 0, 1, 2
    assert sorted(_pairs(darts, "reduce")[2:4]) == [["sep_conv_5x5", 0], ["sep_conv_5x5", 1]]


def test_pruning_by_hand_keeps_the_strongest_ops_per_edge_and_cell_kind():
    """Weights of ops an edge no longer holds are ignored (the bench passes random ones there)."""
    w = np.tile(np.arange(8) / 100, (14, 1))  # dil_conv_5x5 strongest, none weakest
    w[0] = [0.5, 0.3, 0.0, 0.05, 0.05, 0.05, 0.05, 0.0]  # of the tied 0.05s the earliest (skip) goes
    reduce = np.tile(np.arange(8)[::-1] / 100, (14, 1))
    stage = PD.between_stages({"normal": w, "reduce": reduce}, Stage(1, 5), Stage(1, 11), SPACE, PRIMS)
    normal, red = stage.edge_ops()["normal"], stage.edge_ops()["reduce"]
    assert stage.epochs == 1 and stage.cells == 11
    assert normal[0] == ("none", "max_pool_3x3", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3")
    assert normal[1] == ("skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
    assert red[5] == ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3")
    w[1, :3] = reduce[5, 5:] = 0.9  # ops the edges no longer hold: ignored
    nxt = PD.between_stages({"normal": w, "reduce": reduce}, stage, Stage(2, 17), SPACE, PRIMS)
    assert nxt.edge_ops()["normal"][1] == ("sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
    assert nxt.edge_ops()["reduce"][5] == ("none", "max_pool_3x3", "avg_pool_3x3")  # 'none' may stay until the parse


def test_skip_rule_by_hand_removes_the_weakest_skip_and_repicks():
    w = np.full((14, 8), 0.1)
    w[:, 3] = 0.5  # every edge's best op is skip_connect ...
    w[:, 4] = 0.4
    w[[0, 1, 2, 3, 4], 3] = [0.41, 0.6, 0.45, 0.7, 0.42]  # ... node 2 (edges 0, 1), node 3 (edges 2, 3, 4)
    genotype = PD.with_options(max_skips=6).parse({"normal": w, "reduce": w}, SPACE, PRIMS)
    # 8 skips (node 4, 5: ties, the later edges). Edge 0's skip (0.41) goes: sep_conv_3x3 there. Edge 2's (0.45):
    # node 3 takes edge 4's skip (0.42) instead, which goes next: edges 2 and 4 tie at 0.4, the later one stays.
    assert _pairs(genotype, "normal") == [["sep_conv_3x3", 0], ["skip_connect", 1], ["skip_connect", 1],
                                          ["sep_conv_3x3", 2], ["skip_connect", 2], ["skip_connect", 3],
                                          ["skip_connect", 3], ["skip_connect", 4]]
    assert genotype.skip_count("normal") == 6 and genotype.skip_count("reduce") == 8  # normal cell only


def test_dropout_schedule_and_warmup_match_the_official_loop():
    for rate, official in OFFICIAL["dropout"].items():
        ours = [PD.dropout_p(float(rate), e, 25) for e in range(25)]
        assert ours == pytest.approx(official["p"], rel=1e-12, abs=0)
        steps = [PD.arch_step(Progress(1, 3, 25 + e, 75, e, 25)) for e in range(25)]
        assert steps == official["train_arch"] == [False] * 10 + [True] * 15
    short = OFFICIAL["dropout_e5_w2"]  # 5 epochs: round(0.4 * 5) = 2 weight-only, as eps_no_arch 2 there
    assert [PD.dropout_p(0.4, e, 5) for e in range(5)] == pytest.approx(short["p"], rel=1e-12, abs=0)
    assert [PD.arch_step(Progress(0, 3, e, 15, e, 5)) for e in range(5)] == short["train_arch"]
    assert PD.arch_step(Progress(2, 3, 3, 4, 0, 1))  # a one-epoch stage steps the alphas


def _hooked(variant, stage, s, progress):
    model = build_supernet(variant, SearchConfig(init_channels=4, layers=5, channels_last=False), 10, "cpu", stage, s)
    return model, variant.hooks(model, progress)


def test_dropout_sits_after_every_stride_one_skip_as_the_official_modules():
    counts = OFFICIAL["dropout_modules"]
    _, handles = _hooked(PD, Stage(1, 5), 0, Progress(0, 3, 0, 3, 0, 1))
    assert len(handles) == counts["stage0"] == 3 * 14 + 2 * 6  # 3 normal cells, 2 reduce cells (6 stride-1 edges)
    survivors = OFFICIAL["cases"]["seeded"]["official"]["survivors"][0]
    stage = Stage(1, 5, tuple((k, tuple(map(tuple, survivors[k]))) for k in ("normal", "reduce")))
    model, handles = _hooked(PD, stage, 1, Progress(1, 3, 1, 3, 0, 1))
    assert len(handles) == counts["seeded_stage1"]
    assert {type(m).__name__ for m in model.modules() if m._forward_hooks} == {"Identity"}
    assert _hooked(PD.with_options(skip_dropout=(0.0, 0.4, 0.7)), stage, 1, Progress(0, 3, 0, 3, 0, 1))[1] == []
    assert counts["seeded_stage1_p0"] == 0


def test_dropout_zeroes_and_rescales_in_training_only():
    model, handles = _hooked(PD, Stage(1, 5), 2, Progress(2, 3, 2, 3, 0, 1))  # stage 3: p = 0.7
    skip = model.skip_ops()[0]
    x = torch.ones(2, 4, 8, 8).contiguous(memory_format=torch.channels_last)
    torch.manual_seed(0)
    out = skip(x)
    zero, kept = out.unique().tolist()
    assert zero == 0.0 and kept == pytest.approx(1 / 0.3)
    assert 0.6 < (out == 0).float().mean().item() < 0.8
    torch.manual_seed(0)
    assert torch.equal(out, skip(x.contiguous()))  # the same mask in either memory format
    skip.eval()
    assert torch.equal(skip(x), x)


def test_plan_and_paper_preset():
    plan = PD.plan(75, 5, SPACE)
    assert [(s.epochs, s.cells, s.ops) for s in plan] == [(25, 5, None), (25, 11, None), (25, 17, None)]
    assert [s.epochs for s in PD.plan(4, 5, SPACE)] == [2, 1, 1]  # quick preset: the extra epoch to stage 1
    assert [(s.epochs, s.cells) for s in PD.plan(2, 3, SPACE)] == [(1, 3), (1, 9)]  # smoke: 2 of the 3 stages
    paper = PRESETS["paper"].search_config(PD)
    assert (paper.epochs, paper.layers, paper.batch_size, paper.init_channels) == (75, 5, 96, 16)
    assert (paper.learning_rate, paper.learning_rate_min, paper.arch_learning_rate) == (0.025, 0.0, 6e-4)
    assert (paper.arch_beta1, paper.arch_beta2, paper.arch_weight_decay, paper.order) == (0.5, 0.999, 1e-3, "first")
    quick = PRESETS["quick"].search_config(PD)
    assert quick.arch_grad_clip == paper.arch_grad_clip == 5.0 and quick.layers == 5 and quick.epochs == 4
    assert len(PRIMS) == 8 and PRIMS[0] == "none"


def test_options_are_checked_and_small_spaces_refused():
    for bad in ({"num_to_keep": (5, 3)}, {"num_to_keep": (5, 3, 2)}, {"num_to_keep": (3, 5, 1)},
                {"skip_dropout": (0.1, 1.0, 0.7)}, {"warmup_fraction": 1.0}, {"max_skips": -1}):
        with pytest.raises(ValueError):
            make_variant("p_darts", **bad)
    assert make_variant("p_darts", add_layers=[0, 6, 12]) == PD  # lists from settings files
    for name in ("s2", "s3", "s4"):
        with pytest.raises(ValueError, match="more than 5 ops"):
            PD.check_space(get_space(name))


def test_search_records_three_stages_of_5_11_17_cells_and_8_5_3_ops(search_set, tmp_path):
    config = SearchConfig(epochs=3, batch_size=8, init_channels=4, layers=5, train_limit=32, gap_images=8)
    records = list(search(PD, search_set, config, out_dir=tmp_path))
    assert [(r["stage"], r["cells"]) for r in records] == [(0, 5), (1, 11), (2, 17)]
    held = [{int((np.asarray(r["weights"][k]) > 0).sum(1).max()) for k in ("normal", "reduce")} for r in records]
    assert held == [{8}, {5}, {3}]
    assert all(math.isfinite(r["train_loss"]) for r in records)
    assert math.isfinite(records[0]["val_loss"])  # one-epoch stages have no weight-only epoch
