"""The DARTS evaluation networks: every published genotype builds and runs; dead nodes; drop path; ImageNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairdarts_core.genotype import Genotype, GenotypeError, output_nodes
from fairdarts_core.published import PUBLISHED_GENOTYPES
from fairdarts_core.spaces.darts.evalnet import EvalCell, NetworkCIFAR, NetworkImageNet, drop_path
from fairdarts_core.spaces.darts.parse import parse_genotype

C, LAYERS = 4, 5  # reductions at cells 1 and 3, auxiliary head after cell 3 (8x8 on 32x32 input)


@pytest.mark.parametrize("name", sorted(PUBLISHED_GENOTYPES))
def test_published_genotype_builds_and_runs(name):
    torch.manual_seed(0)
    model = NetworkCIFAR(PUBLISHED_GENOTYPES[name], init_channels=C, layers=LAYERS, auxiliary=True)
    x = torch.randn(2, 3, 32, 32)
    model.train()
    logits, aux = model(x)
    assert logits.shape == (2, 10)
    assert aux is not None and aux.shape == (2, 10)
    assert torch.isfinite(logits).all() and torch.isfinite(aux).all()
    model.eval()
    with torch.no_grad():
        logits, aux = model(x)
    assert logits.shape == (2, 10)
    assert aux is None


def test_no_auxiliary_head_when_off():
    model = NetworkCIFAR(PUBLISHED_GENOTYPES["DARTS_V2"], init_channels=C, layers=LAYERS, auxiliary=False)
    assert not any(n.startswith("auxiliary.") for n, _ in model.named_parameters())
    logits, aux = model.train()(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10) and aux is None


# A threshold parse whose normal cell has isolated nodes: node 3 gets no input, node 4 only one
# from node 3; the reduce cell keeps two edges on every node.
def _isolated_genotype() -> Genotype:
    normal = np.full((14, 7), 0.1)
    normal[0, 3] = normal[1, 4] = 0.9   # node 2 <- 0, 1
    normal[8, 2] = 0.9                  # node 4 <- 3 (dead)
    normal[9, 5] = normal[11, 6] = 0.9  # node 5 <- 0, 2
    reduce = np.full((14, 7), 0.9)
    return parse_genotype(normal, reduce, "threshold_sparse", threshold=0.85)


def test_isolated_nodes_build_and_cell_width_counts_computed_nodes():
    g = _isolated_genotype()
    assert ("skip_connect", 4, 3) in g.normal
    assert output_nodes(g.normal, g.normal_concat) == (2, 5)
    assert output_nodes(g.reduce, g.reduce_concat) == (2, 3, 4, 5)
    torch.manual_seed(0)
    model = NetworkCIFAR(g, init_channels=C, layers=LAYERS, auxiliary=True)
    shapes = []
    hooks = [cell.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for cell in model.cells]
    logits, aux = model.train()(torch.randn(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert logits.shape == (2, 10) and aux.shape == (2, 10)
    # cell channels C: 4, 8 (reduce), 8, 16 (reduce), 16; normal cells concat 2 nodes, reduce cells 4.
    assert [s[1] for s in shapes] == [4 * 2, 8 * 4, 8 * 2, 16 * 4, 16 * 2]
    assert [s[2] for s in shapes] == [32, 16, 16, 8, 8]
    assert [cell.multiplier for cell in model.cells] == [2, 4, 2, 4, 2]
    # The dead edge (node 3 -> node 4) is not built.
    normal_cell = model.cells[0]
    assert len(normal_cell.ops) == 4
    assert model.classifier.in_features == 16 * 2


def test_cell_computing_none_of_its_outputs_cannot_build_and_says_why():
    edges = (("sep_conv_3x3", 2, 0), ("skip_connect", 4, 3))
    with pytest.raises(GenotypeError, match=r"its 2 kept edges \(0->2, 3->4\) connect none of them to the cell inputs \(no edge enters node 3\)"):
        EvalCell(edges, (3, 4), 12, 12, C, reduction=False, reduction_prev=False)
    with pytest.raises(GenotypeError, match="the reduce cell computes none of its output nodes .*the parse kept no edge"):
        EvalCell((), (2, 3, 4, 5), 12, 12, C, reduction=True, reduction_prev=False)


# ----- drop path -----------------------------------------------------------------------------
def test_drop_path_zeros_whole_samples_and_rescales_the_rest():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 4, 4) + 0.5
    out = drop_path(x, 0.5)
    dropped = (out == 0).flatten(1).all(dim=1)
    kept = torch.isclose(out, x / 0.5).flatten(1).all(dim=1)
    assert bool((dropped | kept).all())  # every sample is either fully dropped or fully kept
    assert 0 < int(dropped.sum()) < 64
    assert torch.equal(drop_path(x, 0.0), x)


# Each node has exactly one input, so with drop path its output per sample is either 0 or the
# undropped output / keep. Node 5 is a stride-1 skip connection (Identity): never dropped.
ONE_INPUT_EDGES = (("sep_conv_3x3", 2, 0), ("dil_conv_3x3", 3, 1), ("max_pool_3x3", 4, 0),
                   ("skip_connect", 5, 1))


def test_drop_path_in_a_cell_only_in_training():
    torch.manual_seed(0)
    cell = EvalCell(ONE_INPUT_EDGES, (2, 3, 4, 5), 12, 12, C, reduction=False, reduction_prev=False)
    s0, s1 = torch.randn(32, 12, 8, 8), torch.randn(32, 12, 8, 8)
    drop = 0.5

    cell.eval()
    with torch.no_grad():
        assert torch.equal(cell(s0, s1, drop), cell(s0, s1, 0.0))

    cell.train()
    with torch.no_grad():
        clean = cell(s0, s1, 0.0)
        torch.manual_seed(1)
        out = cell(s0, s1, drop)
    clean_nodes = clean.split(C, dim=1)
    out_nodes = out.split(C, dim=1)
    for a, b in zip(clean_nodes[:3], out_nodes[:3]):  # nodes 2, 3, 4
        zero = (b == 0).flatten(1).all(dim=1)
        scaled = torch.isclose(b, a / (1 - drop), atol=1e-6).flatten(1).all(dim=1)
        assert bool((zero | scaled).all())
        assert 0 < int(zero.sum()) < 32  # some samples dropped, some kept
    assert torch.equal(out_nodes[3], clean_nodes[3])  # node 5: the skip connection is never dropped


# Edge-style cell (FairDARTS DCOCell): node 2 <- sep(0) + skip(1); node 3 <- skip(1) only; node 4 has
# no input (ignored); node 5 <- max_pool(2) + sep(0).
DCO_EDGES = (("sep_conv_3x3", 2, 0), ("skip_connect", 2, 1), ("skip_connect", 3, 1),
             ("max_pool_3x3", 5, 2), ("sep_conv_3x3", 5, 0))


@pytest.mark.parametrize("fast", [False, True])
def test_edge_style_cell_drops_each_node_sum_in_node_order(fast):
    """The official DCOCell draws one mask per computed node, in node order, on the node's summed
    output (identity-only nodes too), and later nodes read the dropped state. Rebuilt by hand here."""
    torch.manual_seed(0)
    cell = EvalCell(DCO_EDGES, (2, 3, 4, 5), 12, 12, C, reduction=False, reduction_prev=False, fast=fast,
                    drop_nodes=True).train()
    s0, s1 = torch.randn(16, 12, 8, 8), torch.randn(16, 12, 8, 8)
    drop, keep = 0.5, 0.5
    with torch.no_grad():
        torch.manual_seed(7)
        out = cell(s0, s1, drop)
        p0, p1 = cell.preprocess0(s0), cell.preprocess1(s1)
        sep2, _, _, pool5, sep5 = cell.ops
        torch.manual_seed(7)
        masks = [torch.empty(16, 1, 1, 1).bernoulli_(keep) for _ in range(3)]  # nodes 2, 3, 5
        node2 = (sep2(p0) + p1) / keep * masks[0]
        node3 = p1 / keep * masks[1]
        node5 = (pool5(node2) + sep5(p0)) / keep * masks[2]
    assert cell.concat == (2, 3, 5)
    assert torch.allclose(out, torch.cat([node2, node3, node5], dim=1), atol=1e-5)
    assert 0 < int(masks[1].sum()) < 16  # the identity-only node was dropped for some samples


def test_pair_style_networks_drop_edges_and_edge_style_networks_drop_nodes():
    edge_style = NetworkCIFAR(PUBLISHED_GENOTYPES["FairDARTS_a"], C, LAYERS)
    pair_style = NetworkCIFAR(PUBLISHED_GENOTYPES["DARTS_V2"], C, LAYERS)
    assert all(cell.drop_nodes for cell in edge_style.cells)
    assert not any(cell.drop_nodes for cell in pair_style.cells)


@pytest.mark.parametrize("name", ["FairDARTS_a", "DARTS_V2"])
def test_fast_and_plain_networks_drop_the_same_paths(name):
    plain, fast = _trained_pair(name)
    x = torch.randn(6, 3, 32, 32)
    outs = []
    for model in (plain, fast):
        model.train()
        model.drop_path_prob = 0.3
        torch.manual_seed(11)
        outs.append(model(x)[0])
    assert torch.allclose(outs[0], outs[1], atol=1e-5, rtol=1e-4)


def test_network_drop_path_is_inactive_in_eval_mode():
    torch.manual_seed(0)
    model = NetworkCIFAR(PUBLISHED_GENOTYPES["FairDARTS_b"], init_channels=C, layers=LAYERS,
                         drop_path_prob=0.0).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref, _ = model(x)
        model.drop_path_prob = 0.9
        out, _ = model(x)
    assert torch.equal(out, ref)
    model.train()
    torch.manual_seed(3)
    with torch.no_grad():
        a, _ = model(x)
        model.drop_path_prob = 0.0
        b, _ = model(x)
    assert not torch.allclose(a, b)


# ----- ImageNet -------------------------------------------------------------------------------
def test_imagenet_network_runs_224():
    torch.manual_seed(0)
    model = NetworkImageNet(PUBLISHED_GENOTYPES["FairDARTS_a"], init_channels=8, layers=3, auxiliary=True)
    model.eval()
    with torch.no_grad():
        logits, aux = model(torch.randn(1, 3, 224, 224))
    assert logits.shape == (1, 1000)
    assert aux is None
    assert torch.isfinite(logits).all()


def _trained_pair(name: str, channels_last: bool = False):
    """A plain and a fast network with the same weights, after a few training-mode forwards
    (so the BatchNorm running statistics are not the identity)."""
    torch.manual_seed(0)
    genotype = PUBLISHED_GENOTYPES[name]
    plain = NetworkCIFAR(genotype, C, LAYERS, 10, fast=False)
    fast = NetworkCIFAR(genotype, C, LAYERS, 10, fast=True)
    fast.load_state_dict(plain.state_dict())
    with torch.no_grad():
        for _ in range(3):
            x = torch.randn(8, 3, 32, 32) * 2 + 0.5
            plain(x)
            fast(x)
    if channels_last:
        plain, fast = (m.to(memory_format=torch.channels_last) for m in (plain, fast))
    return plain, fast


@pytest.mark.parametrize("name", ["FairDARTS_a", "DARTS_V2", "PDARTS"])
def test_fast_cells_equal_plain_cells_in_outputs_and_gradients(name):
    plain, fast = _trained_pair(name)
    x = torch.randn(6, 3, 32, 32)
    y = torch.randint(0, 10, (6,))
    losses = []
    for model in (plain, fast):
        model.train()
        logits, aux = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y) + 0.4 * torch.nn.functional.cross_entropy(aux, y)
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    for (n, p), (_, q) in zip(plain.named_parameters(), fast.named_parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5, rtol=1e-4), n


def test_fast_imagenet_network_equals_plain_in_outputs_and_gradients():
    """The fast path activates each cell output once for its consumers, the ImageNet stems included."""
    torch.manual_seed(0)
    genotype = PUBLISHED_GENOTYPES["DARTS_V2"]
    plain = NetworkImageNet(genotype, init_channels=8, layers=3, num_classes=5, auxiliary=False, fast=False)
    fast = NetworkImageNet(genotype, init_channels=8, layers=3, num_classes=5, auxiliary=False, fast=True)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    grads = []
    for model in (plain, fast):
        logits, _ = model.train()(x)
        logits.square().sum().backward()
        grads.append([p.grad for p in model.parameters()])
    for g0, g1 in zip(*grads):
        assert torch.allclose(g0, g1, atol=1e-5, rtol=1e-4)
