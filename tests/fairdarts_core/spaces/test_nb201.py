"""The NAS-Bench-201 space: its genotype family (the benchmark's architecture strings), parse, search and
evaluation networks, profiles and presets, compared with the official xautodl code where it can be.

Official numbers:
- OFFICIAL_COUNTS below, measured by running AutoDL-Projects@f46486e (xautodl) with torch 2.14.1 and thop
  0.1.1.post2209072238: `params` = every parameter of TinyNetwork(C=16, N=5, 10 classes); `bench_flops` =
  xautodl `get_model_infos` x 1e6 (the `flop` the benchmark stores; equal to NATS-Bench's own records);
  `thop` = thop MACs with every BatchNorm replaced by Identity, eval mode, one zero 1x3x32x32 image.
- tests/fixtures/nb201_official.json, written by tests/fixtures/nb201_official_record.py: the official
  TinyNetwork and TinyNetworkDarts (C=4, N=2, 10 classes, float64, CPU, one thread), every state_dict tensor
  filled in state_dict order by `fill` (tests/fixtures/filled.py, same seeds), run on the inputs of `_inputs`. It holds the
  official state_dict layout, the eval- and train-mode logits of the evaluation network for one cell, and the
  search network's train-mode logits, loss and alpha gradient (affine=False, track_running_stats=False).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fairdarts_core.genotype import Genotype, GenotypeError, family_of_text, load_genotype
from fairdarts_core.search import search
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import build_supernet
from fairdarts_core.sizes import PRESETS
from fairdarts_core.spaces import GENOTYPE_FAMILIES, SPACES, get_space, space_of
from fairdarts_core.spaces.nb201 import EDGES, NB201, PRIMITIVES, SearchCell, TinyNetwork
from fairdarts_core.train import TrainConfig, build_model, evaluate, train
from tests.fixtures.filled import batch, fill, state_tensors
from variants import make_variant

FIXTURE = json.loads((Path(__file__).parents[2] / "fixtures" / "nb201_official.json").read_text())
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _uniform(op: str) -> str:
    return f"|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|"


# arch -> (params, benchmark FLOPs (get_model_infos x 1e6), thop MACs with BN removed), C=16, N=5, 10 classes
OFFICIAL_COUNTS = {
    _uniform("nor_conv_3x3"): (1_531_546, 220_119_690, 220_129_984),
    _uniform("skip_connect"): (73_306, 7_783_050, 7_793_344),
    _uniform("none"): (73_306, 7_783_050, 7_793_344),
    _uniform("avg_pool_3x3"): (73_306, 7_783_050, 8_653_504),
    _uniform("nor_conv_1x1"): (241_306, 31_376_010, 31_386_304),
    BEST: (1_288_506, 184_730_250, 184_740_544),
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|": (316_346, 43_172_490, 43_182_784),
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|":
        (129_306, 15_647_370, 15_801_024),
}


# ----- genotype family ----------------------------------------------------------------------------
@pytest.mark.parametrize("arch", OFFICIAL_COUNTS)
def test_strings_round_trip_through_every_form(arch, tmp_path):
    g = Genotype.from_string(arch)
    assert g.family == "nb201" and g.kinds == ("cell",) and g.to_string() == arch
    assert g.to_dict() == {"family": "nb201", "arch": arch}
    assert Genotype.from_json(g.to_json()) == g == load_genotype(arch) == load_genotype(f"  {arch}\n")
    (tmp_path / "g.txt").write_text(arch + "\n")
    (tmp_path / "g.json").write_text(g.to_json())
    assert load_genotype(tmp_path / "g.txt") == g == load_genotype(str(tmp_path / "g.json"))
    assert space_of(g) is NB201


def test_edges_are_op_to_from_in_the_benchmark_order():
    edges, concat = Genotype.from_string(BEST).cell("cell")
    assert edges == (("nor_conv_3x3", 1, 0), ("nor_conv_3x3", 2, 0), ("nor_conv_3x3", 2, 1),
                     ("skip_connect", 3, 0), ("nor_conv_3x3", 3, 1), ("nor_conv_3x3", 3, 2))
    assert concat == (3,)
    assert Genotype.of({"cell": (edges, (3,))}, family="nb201").to_string() == BEST
    assert Genotype.from_string(BEST).skip_count() == 1


def test_nb201_strings_are_read_before_the_darts_family_which_reads_anything_else():
    assert list(GENOTYPE_FAMILIES)[0] == "nb201" and list(GENOTYPE_FAMILIES)[-1] == "darts"
    assert family_of_text(BEST).name == "nb201"
    darts = "Genotype(normal=[], normal_concat=[2], reduce=[], reduce_concat=[2])"
    assert family_of_text(darts).name == "darts"


@pytest.mark.parametrize("text, message", [
    ("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|", "missing edge 2<-1"),
    ("|nor_conv_3x3~0|+|none~0|none~0|none~1|+|none~0|none~1|none~2|", "duplicate edge 2<-0"),
    ("|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_3x3'"),
    ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "comes from node 2; node 2 takes nodes 0..1"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "3 nodes joined by '+', got 4"),
    ("|none~0|+|none~0|none~1|", "3 nodes joined by '+', got 2"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none-2|", "is not op~j"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~x|", "is not op~j"),
    ("|none~0|+none~0|none~1|+|none~0|none~1|none~2|", "must read |op~j|"),
    ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "must be in the order"),
])
def test_bad_strings_are_one_line_errors_naming_the_problem(text, message):
    with pytest.raises(GenotypeError, match=message.replace("|", r"\|").replace("+", r"\+")) as err:
        Genotype.from_string(text)
    assert "\n" not in str(err.value)


def test_bad_cells_are_errors():
    edges = Genotype.from_string(BEST).cell("cell")[0]
    with pytest.raises(GenotypeError, match="outputs node 3 alone"):
        Genotype.of({"cell": (edges, (2, 3))}, family="nb201")
    with pytest.raises(GenotypeError, match="the one cell 'cell'"):
        Genotype.of({"normal": (edges, (3,))}, family="nb201")
    with pytest.raises(GenotypeError, match="goes to node 4"):
        Genotype.of({"cell": (edges[:5] + (("none", 4, 2),), (3,))}, family="nb201")
    with pytest.raises(GenotypeError, match="unknown keys"):
        Genotype.from_dict({"family": "nb201", "arch": BEST, "normal": []})
    with pytest.raises(GenotypeError, match="needs 'arch'"):
        Genotype.from_dict({"family": "nb201"})
    with pytest.raises(GenotypeError, match="does not fit space nb201"):
        NB201.check_genotype(load_genotype("DARTS_V2", __import__("fairdarts_core").PUBLISHED_GENOTYPES))


# ----- the space and its parse --------------------------------------------------------------------
def test_the_space_declares_the_benchmark_cell():
    assert get_space("nb201") is NB201 and SPACES["nb201"] is NB201
    assert (NB201.name, NB201.family, NB201.cell_kinds, NB201.num_inputs, NB201.num_nodes) == \
        ("nb201", "nb201", ("cell",), 1, 3)
    assert NB201.primitives == PRIMITIVES == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert NB201.edges == EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert NB201.optional_none is False and NB201.op_set(True) == NB201.op_set(False) == PRIMITIVES
    assert NB201.parse_methods == ("argmax", "perturbation")  # perturbation: selection on the checkpoint
    variant = make_variant("darts_v1")
    assert variant.arch_shapes(NB201, variant.primitives(NB201)) == {"alphas_cell": (6, 5)}
    assert variant.resolved_parse(NB201) == "argmax" and make_variant("fair_darts").resolved_parse(NB201) == "argmax"


def test_argmax_keeps_every_edge_with_its_strongest_op_none_included():
    w = np.full((6, 5), 0.1)
    for e, k in enumerate([0, 1, 2, 3, 4, 0]):
        w[e, k] = 0.6
    w[5, 3] = 0.6  # tie between none (column 0) and nor_conv_3x3: the lower column wins, as torch.argmax
    g = NB201.parse({"cell": w}, "argmax", 0.85, PRIMITIVES)
    assert g.to_string() == "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
    mask = np.ones((6, 5), dtype=bool)
    mask[:, 0] = False  # edges that do not hold 'none' never choose it
    masked = NB201.parse({"cell": w}, "argmax", 0.85, PRIMITIVES, {"cell": mask})
    assert masked.to_string().startswith("|skip_connect~0|") and masked.cell("cell")[0][5][0] == "nor_conv_3x3"
    assert NB201.parse(NB201.genotype_mask(g, PRIMITIVES), "argmax", 0.5, PRIMITIVES) == g
    with pytest.raises(GenotypeError, match="6 rows"):
        NB201.parse({"cell": w[:5]}, "argmax", 0.85, PRIMITIVES)
    with pytest.raises(ValueError, match="no parse method 'darts'"):
        NB201.parse({"cell": w}, "darts", 0.85, PRIMITIVES)


def test_genotype_mask_is_one_hot_per_edge():
    mask = NB201.genotype_mask(Genotype.from_string(BEST), PRIMITIVES)["cell"]
    assert mask.shape == (6, 5) and (mask.sum(1) == 1).all()
    assert [PRIMITIVES[k] for k in mask.argmax(1)] == ["nor_conv_3x3"] * 3 + ["skip_connect"] + ["nor_conv_3x3"] * 2


# ----- search network -----------------------------------------------------------------------------
def _inputs(seed: int):
    return batch(seed, FIXTURE["batch"], FIXTURE["side"], FIXTURE["num_classes"])


def _supernet(c: int, n: int, variant: str = "darts_v1", fast: bool = True, mixed_op=None):
    v = make_variant(variant)
    primitives = v.primitives(NB201)
    model = NB201.supernet(primitives, 10, c, n, None, mixed_op or v.mixed_op(), fast=fast)
    for name, shape in v.arch_shapes(NB201, primitives).items():
        model.arch[name] = nn.Parameter(torch.zeros(shape))
    return model, v


def test_search_network_layout_as_the_official_tiny_network_darts():
    model, _ = _supernet(16, 5)
    cells = [m for m in model.cells if isinstance(m, SearchCell)]
    assert len(model.cells) == 17 and len(cells) == 15
    # the official get_weights(): 1,692,826 at C=16, N=5, 10 classes (convs with bias, BN without affine)
    assert sum(p.numel() for p in model.weight_parameters()) == 1_692_826
    assert [tuple(a.shape) for a in model.arch_parameters()] == [(6, 5)]
    for cell in cells:
        for mixed in cell.edges:
            assert mixed.op_names == PRIMITIVES and mixed.stride == 1
            for op in mixed.ops:
                for m in op.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        assert not m.affine and not m.track_running_stats
                    if isinstance(m, nn.Conv2d):
                        assert m.bias is not None
    assert model.lastact[0].affine and model.lastact[0].track_running_stats and model.stem[1].affine
    assert len(model.skip_ops()) == 15 * 6


@pytest.mark.parametrize("fast", [True, False])
def test_search_network_equals_the_official_one(fast):
    """Train-mode logits, loss and alpha gradient of TinyNetworkDarts (fixture) with the same weights."""
    ref = FIXTURE["search_network"]
    model, variant = _supernet(FIXTURE["C"], FIXTURE["N"], fast=fast)
    model = model.double()
    assert [list(t.shape) for _, t in state_tensors(model)] == ref["filled"]
    fill(model, 3)
    with torch.no_grad():
        model.arch["alphas_cell"].copy_(torch.tensor(ref["alpha"], dtype=torch.float64))
    x, y = _inputs(5)
    logits = model.train()(x, variant.weights(dict(model.arch), NB201))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    tol = dict(rtol=0, atol=1e-12)
    torch.testing.assert_close(logits, torch.tensor(ref["logits_train"], dtype=torch.float64), **tol)
    assert loss.item() == pytest.approx(ref["loss"], abs=1e-12)
    torch.testing.assert_close(model.arch["alphas_cell"].grad, torch.tensor(ref["alpha_grad"], dtype=torch.float64),
                               **tol)


def _fast_and_plain(c: int, n: int, seed: int):
    """The same filled float64 supernet on the fast path (channels_last, `build_supernet`'s layout) and on
    the plain path (NCHW), with random alphas."""
    models = []
    for fast in (True, False):
        model, variant = _supernet(c, n, fast=fast)
        model = model.double()
        fill(model, seed)
        with torch.no_grad():
            model.arch["alphas_cell"].copy_(torch.randn(6, 5, generator=torch.Generator().manual_seed(seed),
                                                        dtype=torch.float64))
        models.append(model.to(memory_format=torch.channels_last) if fast else model)
    return models, variant


def test_the_fast_search_path_equals_the_plain_one_in_float64():
    """The fast edge (`fast_edge`: shared ReLU, one weighted-sum node, the pool as a conv) against the plain
    Python sum: logits, alpha gradient and every weight gradient, on channels_last 32x32 input (the pool's
    conv form runs at 32x32 and 16x16, ATen's pool at 8x8). The conv biases' gradients are rounding noise
    (BatchNorm without affine removes the bias), so they are compared on the scale of the others."""
    (fast, plain), variant = _fast_and_plain(4, 2, 11)
    x, y = _inputs(5)
    x = F.interpolate(x, size=(32, 32))
    results = []
    for model, inp in ((fast, x.contiguous(memory_format=torch.channels_last)), (plain, x)):
        logits = model.train()(inp, variant.weights(dict(model.arch), NB201))
        loss = F.cross_entropy(logits, y)
        results.append((logits, torch.autograd.grad(loss, list(model.parameters()))))
    (logits_f, grads_f), (logits_p, grads_p) = results
    torch.testing.assert_close(logits_f, logits_p, rtol=0, atol=1e-12)
    scale = max(g.abs().max().item() for g in grads_p)
    for (name, _), gf, gp in zip(plain.named_parameters(), grads_f, grads_p):
        torch.testing.assert_close(gf, gp, rtol=1e-9, atol=1e-12 * scale, msg=name)


def test_the_fast_search_path_has_the_plain_hessian():
    """Hessian-vector products of the alphas (create_graph, as `hessian_eigenvalue`) through the fast edge."""
    (fast, plain), variant = _fast_and_plain(4, 1, 12)
    x, y = _inputs(6)
    v = torch.randn(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    hvs = []
    for model, inp in ((fast, x.contiguous(memory_format=torch.channels_last)), (plain, x)):
        alpha = model.arch["alphas_cell"]
        loss = F.cross_entropy(model.train()(inp, variant.weights(dict(model.arch), NB201)), y)
        (g,) = torch.autograd.grad(loss, [alpha], create_graph=True)
        hvs.append(torch.autograd.grad(g, [alpha], grad_outputs=v)[0])
    torch.testing.assert_close(hvs[0], hvs[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("side", [32, 16, 8, 5])
def test_avg_pool_3x3_equals_the_pool_without_the_padding_count(side):
    from fairdarts_core.spaces.nb201 import avg_pool_3x3

    gen = torch.Generator().manual_seed(side)
    x = torch.randn(2, 3, side, side, generator=gen, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    out = avg_pool_3x3(x)
    ref = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-14)
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(out, x, g)[0], torch.autograd.grad(ref, x, g)[0],
                               rtol=0, atol=1e-14)
    if side == 16:  # the conv form at its smallest size, twice differentiable (the Hessian runs through it)
        assert torch.autograd.gradgradcheck(avg_pool_3x3, (x[:1, :1].contiguous(
            memory_format=torch.channels_last).detach().requires_grad_(),))


def test_the_weighted_sum_node_has_the_gradients_of_the_products():
    from fairdarts_core.spaces.nb201 import _WeightedSum

    gen = torch.Generator().manual_seed(0)
    row = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    parts = [torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last).requires_grad_() for _ in range(3)]
    parts[2] = parts[2].detach().contiguous().requires_grad_()  # a layout other than the gradient's
    cols = (1, 2, 4)

    def weighted(r, *ps):
        return _WeightedSum.apply(r, cols, *ps)

    plain = sum(row[c] * p for c, p in zip(cols, parts))
    torch.testing.assert_close(weighted(row, *parts), plain, rtol=0, atol=1e-14)
    assert torch.autograd.gradcheck(weighted, (row, *parts))
    assert torch.autograd.gradgradcheck(weighted, (row, *parts))


def test_the_nb201_convs_share_one_relu_on_the_fast_path():
    from fairdarts_core.ops import after_leading_relu
    from fairdarts_core.spaces.nb201 import search_op

    tail = after_leading_relu(search_op("nor_conv_3x3", 4, 1))
    assert [type(m) for m in tail] == [nn.Conv2d, nn.BatchNorm2d]
    model, _ = _supernet(4, 1)
    assert all(edge.shares_relu for cell in model.cells if isinstance(cell, SearchCell) for edge in cell.edges)


def test_the_variants_mixed_op_factory_builds_every_edge():
    from fairdarts_core.mixed_op import MixedOp

    calls = []

    def factory(build, channels, stride, ops, fast):
        calls.append((channels, stride, tuple(ops)))
        return MixedOp(build, channels, stride, ops, fast)

    model, variant = _supernet(4, 2, mixed_op=factory)
    assert len(calls) == 3 * 2 * 6 and {c for c, _, _ in calls} == {4, 8, 16}
    assert all(stride == 1 and ops == tuple(enumerate(PRIMITIVES)) for _, stride, ops in calls)
    out = model(torch.randn(2, 3, 16, 16), variant.weights(dict(model.arch), NB201))
    assert out.shape == (2, 10)


def test_smoke_search_writes_nb201_genotypes_and_one_weight_matrix(search_set):
    variant = make_variant("darts_v1")
    config = replace(PRESETS["smoke"].search_config(variant, {"space": "nb201"}), epochs=1, train_limit=32,
                     gap_images=16, channels_last=False)
    (record,) = list(search(variant, search_set, config))
    assert set(record["weights"]) == {"cell"} and np.asarray(record["weights"]["cell"]).shape == (6, 5)
    genotype = Genotype.from_json(record["genotype"])
    assert genotype.family == "nb201" and record["skip_normal"] == record["skip_reduce"] == genotype.skip_count()
    model = build_supernet(variant, config, 10, "cpu")
    assert len([m for m in model.cells if isinstance(m, SearchCell)]) == 3 * config.layers


# ----- evaluation network -------------------------------------------------------------------------
def test_evaluation_network_equals_the_official_tiny_network():
    """Same state_dict keys and shapes; the same eval- and train-mode logits with the same weights."""
    ref = FIXTURE["eval_network"]
    net = TinyNetwork(Genotype.from_string(FIXTURE["arch"]), FIXTURE["C"], FIXTURE["N"], FIXTURE["num_classes"])
    net = net.double()
    assert [[n, list(t.shape)] for n, t in net.state_dict().items()] == ref["state_dict"]
    assert sum(p.numel() for p in net.parameters()) == ref["num_params"]
    fill(net, 1)
    x, _ = _inputs(2)
    with torch.no_grad():
        logits_eval, aux = net.eval()(x)
    logits_train, _ = net.train()(x)
    assert aux is None
    torch.testing.assert_close(logits_eval, torch.tensor(ref["logits_eval"], dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(logits_train, torch.tensor(ref["logits_train"], dtype=torch.float64), rtol=0,
                               atol=1e-12)


def test_every_edge_of_the_string_is_built_none_included():
    from fairdarts_core.ops import Identity, Zero

    net = NB201.evalnet(Genotype.from_string(FIXTURE["arch"]), 4, 1, 10, auxiliary=True)
    cell = net.cells[0]
    assert [type(m).__name__ for m in cell.layers] == ["ReLUConvBN", "ReLUConvBN", "AvgPool2d", "Identity", "Zero",
                                                       "ReLUConvBN"]
    assert isinstance(cell.layers[3], Identity) and isinstance(cell.layers[4], Zero)
    all_none = NB201.evalnet(Genotype.from_string(_uniform("none")), 4, 1, 10, auxiliary=False).eval()
    with torch.no_grad():
        logits, _ = all_none(torch.randn(2, 3, 16, 16))
    torch.testing.assert_close(logits, all_none.classifier.bias.expand(2, 10))  # as measured on the official net


@pytest.mark.parametrize("arch", OFFICIAL_COUNTS)
def test_profile_matches_the_official_counts(arch):
    params, bench_flops, thop_macs = OFFICIAL_COUNTS[arch]
    prof = NB201.profile(Genotype.from_string(arch))
    assert round(prof["params_m"] * 1e6) == params and prof["params_with_aux_m"] == prof["params_m"]
    assert round(prof["bench_params_m"] * 1e6) == params
    assert round(prof["bench_flops_m"] * 1e6) == bench_flops
    assert round(prof["flops_m"] * 1e6) == thop_macs
    line = NB201.describe_profile(prof)
    assert "thop" in line and "get_model_infos" in line and "\n" not in line


def test_profile_follows_the_closed_form_for_other_class_counts():
    """get_model_infos on CIFAR-100 (K=100): params 72,656 + 65K + 243,040 n3 + 28,000 n1; FLOPs the same plus 65K."""
    prof = NB201.profile(Genotype.from_string(BEST), num_classes=100)
    assert round(prof["bench_params_m"] * 1e6) == 72_656 + 6_500 + 243_040 * 5
    assert round(prof["bench_flops_m"] * 1e6) == 7_782_400 + 35_389_440 * 5 + 6_500


def test_training_runs_with_the_benchmark_protocol_and_folded_batchnorm_scores_the_same(tiny_set):
    from fairdarts_core.data import Batches
    from fairdarts_core.inference import fold_batchnorm

    genotype = Genotype.from_string(FIXTURE["arch"])
    config = replace(PRESETS["smoke"].train_config("nb201"), epochs=1, train_limit=32, test_limit=16)
    assert (config.nesterov, config.weight_decay, config.cutout, config.auxiliary_weight, config.drop_path_prob,
            config.grad_clip) == (True, 5e-4, 0, 0.0, 0.0, 0.0)
    (record,) = list(train(genotype, tiny_set, tiny_set, config))
    assert np.isfinite(record["train_loss"]) and 0 <= record["test_acc"] <= 100
    model = build_model(genotype, config, 10, "cpu")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(fold_batchnorm(model)(x)[0], model.eval()(x)[0], rtol=1e-4, atol=1e-4)
    batches = Batches(tiny_set.subset(slice(0, 16)), 8, "cpu", shuffle=False)
    assert evaluate(model, batches, fast=True) == pytest.approx(evaluate(model, batches, fast=False), abs=1e-3)


# ----- presets ------------------------------------------------------------------------------------
def test_paper_presets_are_the_nb201_protocols():
    s = PRESETS["paper"].search_config(make_variant("darts_v1"), {"space": "nb201"})
    assert (s.epochs, s.batch_size, s.init_channels, s.layers) == (50, 64, 16, 5)
    assert (s.learning_rate, s.learning_rate_min, s.momentum, s.nesterov, s.weight_decay, s.grad_clip) == \
        (0.025, 0.001, 0.9, True, 5e-4, 5.0)
    assert s.weight_step_first and s.order == "first"
    assert (s.arch_learning_rate, s.arch_beta1, s.arch_weight_decay) == (3e-4, 0.5, 1e-3)  # the variant's
    t = PRESETS["paper"].train_config("nb201")
    assert (t.epochs, t.batch_size, t.learning_rate, t.learning_rate_min, t.momentum, t.nesterov, t.weight_decay) == \
        (200, 256, 0.1, 0.0, 0.9, True, 5e-4)
    assert (t.cutout, t.auxiliary_weight, t.drop_path_prob, t.init_channels, t.layers) == (0, 0.0, 0.0, 16, 5)


@pytest.mark.parametrize("preset", ["quick", "smoke"])
def test_short_presets_keep_the_protocol_at_cpu_sizes(preset):
    s = PRESETS[preset].search_config(make_variant("darts_v1"), {"space": "nb201"})
    assert s.space == "nb201" and s.nesterov and s.weight_step_first and s.weight_decay == 5e-4
    assert (s.init_channels, s.layers) == ((8, 5) if preset == "quick" else (4, 1))
    assert s.epochs == PRESETS[preset].search_config(make_variant("darts_v1")).epochs
    t = PRESETS[preset].train_config("nb201")
    assert t.nesterov and t.cutout == 0 and t.auxiliary_weight == 0 and t.drop_path_prob == 0
    assert SearchConfig(space="nb201").space == "nb201" and TrainConfig().init_channels == 36
