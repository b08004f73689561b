"""Parse methods on hand-built (14, n_ops) weight matrices whose answers are worked out by hand.

Rows (edges) in node order:  r0 0->2, r1 1->2 | r2 0->3, r3 1->3, r4 2->3 |
r5 0->4, r6 1->4, r7 2->4, r8 3->4 | r9 0->5, r10 1->5, r11 2->5, r12 3->5, r13 4->5.
PRIMITIVES columns: 0 max_pool_3x3, 1 avg_pool_3x3, 2 skip_connect, 3 sep_conv_3x3,
4 sep_conv_5x5, 5 dil_conv_3x3, 6 dil_conv_5x5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairdarts_core.genotype import Genotype, GenotypeError, output_nodes
from fairdarts_core.spaces.darts import DARTS_PRIMITIVES, EDGES, PRIMITIVES
from fairdarts_core.spaces.darts.parse import PARSE_METHODS, parse_genotype
from fairdarts_core.spaces.darts.space import genotype_mask

MAX, AVG, SKIP, SEP3, SEP5, DIL3, DIL5 = range(7)


def weights(entries: dict[tuple[int, int], float], base: float = 0.1, n_ops: int = 7) -> np.ndarray:
    m = np.full((14, n_ops), base)
    for (row, op), w in entries.items():
        m[row, op] = w
    return m


# --- darts: ties --------------------------------------------------------------------------
TIES = weights({
    # node 2: r0 and r1 tie at 0.6 (edge tie -> r0 first); on r1 sep_conv_5x5 and dil_conv_3x3 tie
    # (op tie -> the lower index, sep_conv_5x5).
    (0, SEP3): 0.6, (1, DIL3): 0.6, (1, SEP5): 0.6,
    # node 3: r3 and r4 tie at 0.5, r2 is weaker.
    (2, MAX): 0.3, (3, SKIP): 0.5, (4, AVG): 0.5,
    # node 4: strongest r8, then r6.
    (6, DIL5): 0.7, (7, SEP3): 0.4, (8, MAX): 0.9,
    # node 5: everything 0.1: edges r9, r10; op max_pool_3x3 (index 0) on both.
})
TIES_DARTS = (
    ("sep_conv_3x3", 2, 0), ("sep_conv_5x5", 2, 1),
    ("skip_connect", 3, 1), ("avg_pool_3x3", 3, 2),
    ("max_pool_3x3", 4, 3), ("dil_conv_5x5", 4, 1),
    ("max_pool_3x3", 5, 0), ("max_pool_3x3", 5, 1),
)

# --- threshold_sparse (sigma 0.85) ---------------------------------------------------------
SPARSE = weights({
    (0, SEP3): 0.95, (1, DIL3): 0.6,                      # node 2: keeps r0 only (1 input)
    (2, MAX): 0.2, (3, SKIP): 0.3, (4, SEP5): 0.84,       # node 3: best 0.84 < sigma (0 inputs)
    (5, MAX): 0.9, (6, SKIP): 0.86, (7, DIL5): 0.87,      # node 4: top-2 r5, r7; r6 >= sigma but 3rd
    (9, SEP5): 0.85, (10, AVG): 0.3,                      # node 5: r9 at exactly sigma (1 input)
})
SPARSE_DARTS = (
    ("sep_conv_3x3", 2, 0), ("dil_conv_3x3", 2, 1),
    ("sep_conv_5x5", 3, 2), ("skip_connect", 3, 1),
    ("max_pool_3x3", 4, 0), ("dil_conv_5x5", 4, 2),
    ("sep_conv_5x5", 5, 0), ("avg_pool_3x3", 5, 1),
)
SPARSE_THRESHOLD = {("sep_conv_3x3", 2, 0), ("max_pool_3x3", 4, 0), ("dil_conv_5x5", 4, 2),
                    ("sep_conv_5x5", 5, 0)}

# --- threshold_edge (sigma 0.85) -----------------------------------------------------------
EDGE = weights({
    (0, MAX): 0.9, (0, AVG): 0.95, (0, SKIP): 0.99,       # three above sigma: keep the best two
    (1, SEP3): 0.9,                                       # one above sigma
    (2, SEP5): 0.9, (2, DIL3): 0.9, (2, DIL5): 0.9,       # three-way tie: the official keeps the higher indices
    (3, SEP3): 0.84,                                      # just below
    (7, MAX): 0.86,
    (13, AVG): 0.88, (13, SEP3): 0.87, (12, SKIP): 0.85,  # exactly sigma is kept
})
EDGE_THRESHOLD = {
    ("skip_connect", 2, 0), ("avg_pool_3x3", 2, 0), ("sep_conv_3x3", 2, 1),
    ("dil_conv_3x3", 3, 0), ("dil_conv_5x5", 3, 0),
    ("max_pool_3x3", 4, 2),
    ("avg_pool_3x3", 5, 4), ("sep_conv_3x3", 5, 4), ("skip_connect", 5, 3),
}


def test_darts_ties_go_to_lower_edge_and_lower_op():
    g = parse_genotype(TIES, SPARSE, "darts")
    assert g.style == "pairs"
    # DARTS order: per node, the stronger edge first; ties keep the lower edge first.
    assert g.normal == TIES_DARTS
    assert g.reduce == SPARSE_DARTS
    assert g.normal_concat == (2, 3, 4, 5) and g.reduce_concat == (2, 3, 4, 5)


def test_threshold_sparse_drops_weak_edges_leaving_nodes_with_0_or_1_inputs():
    g = parse_genotype(SPARSE, SPARSE, "threshold_sparse", threshold=0.85)
    assert g.style == "edges"
    assert set(g.normal) == SPARSE_THRESHOLD and len(g.normal) == len(SPARSE_THRESHOLD)
    inputs = {node: sum(dst == node for _, dst, _ in g.normal) for node in (2, 3, 4, 5)}
    assert inputs == {2: 1, 3: 0, 4: 2, 5: 1}
    assert output_nodes(g.normal, g.normal_concat) == (2, 4, 5)


def test_threshold_sparse_at_zero_keeps_the_darts_edges():
    g = parse_genotype(TIES, TIES, "threshold_sparse", threshold=0.0)
    assert set(g.normal) == set(TIES_DARTS) and len(g.normal) == len(TIES_DARTS)


def test_threshold_edge_keeps_up_to_two_ops_per_edge():
    g = parse_genotype(EDGE, EDGE, "threshold_edge", threshold=0.85)
    assert g.style == "edges"
    assert set(g.normal) == EDGE_THRESHOLD and len(g.normal) == len(EDGE_THRESHOLD)
    assert set(g.reduce) == EDGE_THRESHOLD


def test_threshold_edge_lists_each_edges_ops_weaker_first_in_edge_order():
    # The official loop appends sorted(enumerate(W[j]), key=weight)[-2:] edge by edge.
    g = parse_genotype(EDGE, EDGE, "threshold_edge", threshold=0.85)
    assert g.normal[:5] == (("avg_pool_3x3", 2, 0), ("skip_connect", 2, 0), ("sep_conv_3x3", 2, 1),
                            ("dil_conv_3x3", 3, 0), ("dil_conv_5x5", 3, 0))
    assert g.normal[-3:] == (("skip_connect", 5, 3), ("sep_conv_3x3", 5, 4), ("avg_pool_3x3", 5, 4))


@pytest.mark.parametrize("method", ["darts", "threshold_sparse"])
def test_best_op_ties_go_to_the_lower_index_and_edge_ties_to_the_lower_edge(method):
    # Every op of every edge at 0.9: the first max is op 0, the first two edges win.
    flat = np.full((14, 7), 0.9)
    g = parse_genotype(flat, flat, method, threshold=0.85)
    assert [(op, dst, src) for op, dst, src in g.normal] == [
        ("max_pool_3x3", dst, src) for dst in (2, 3, 4, 5) for src in (0, 1)]


def test_threshold_edge_ties_keep_the_two_highest_op_indices():
    flat = np.full((14, 7), 0.9)
    g = parse_genotype(flat, flat, "threshold_edge", threshold=0.85)
    assert g.normal[:2] == (("dil_conv_3x3", 2, 0), ("dil_conv_5x5", 2, 0))
    assert len(g.normal) == 28


def test_threshold_edge_at_zero_keeps_two_ops_on_every_edge():
    g = parse_genotype(TIES, TIES, "threshold_edge", threshold=0.0)
    assert len(g.normal) == 2 * 14
    for src, dst in EDGES:
        assert sum(d == dst and s == src for _, d, s in g.normal) == 2


# --- 'none' --------------------------------------------------------------------------------
# DARTS_PRIMITIVES: 'none' at index 0 with the largest weight everywhere; the rest shifted by 1.
NONE_HEAVY = weights({
    (0, 1 + SEP3): 0.3, (1, 1 + SKIP): 0.2,
    (3, 1 + DIL3): 0.5, (4, 1 + MAX): 0.4,          # r2 has nothing but 'none': not chosen
    (9, 1 + AVG): 0.2, (13, 1 + DIL5): 0.6,
}, n_ops=8)
NONE_HEAVY[:, 0] = 0.99
NONE_HEAVY_DARTS = (
    ("sep_conv_3x3", 2, 0), ("skip_connect", 2, 1),
    ("dil_conv_3x3", 3, 1), ("max_pool_3x3", 3, 2),
    ("max_pool_3x3", 4, 0), ("max_pool_3x3", 4, 1),   # all 0.1: edge and op ties, 'none' skipped
    ("dil_conv_5x5", 5, 4), ("avg_pool_3x3", 5, 0),
)
NONE_HEAVY_THRESHOLD = {("sep_conv_3x3", 2, 0), ("skip_connect", 2, 1), ("dil_conv_3x3", 3, 1),
                        ("max_pool_3x3", 3, 2), ("dil_conv_5x5", 5, 4), ("avg_pool_3x3", 5, 0)}


def test_none_is_never_chosen_by_darts():
    g = parse_genotype(NONE_HEAVY, NONE_HEAVY, "darts", primitives=DARTS_PRIMITIVES)
    assert g.normal == NONE_HEAVY_DARTS


@pytest.mark.parametrize("method", ["threshold_sparse", "threshold_edge"])
def test_none_is_never_chosen_by_threshold_methods(method):
    g = parse_genotype(NONE_HEAVY, NONE_HEAVY, method, threshold=0.15, primitives=DARTS_PRIMITIVES)
    assert set(g.normal) == NONE_HEAVY_THRESHOLD and len(g.normal) == len(NONE_HEAVY_THRESHOLD)


@pytest.mark.parametrize("method", PARSE_METHODS)
def test_none_never_appears_on_random_weights(method):
    rng = np.random.default_rng(1)
    w = rng.random((14, 8))
    w[:, 0] = 1.0
    g = parse_genotype(w, w, method, threshold=0.5, primitives=DARTS_PRIMITIVES)
    assert g.normal and all(op != "none" for op, _, _ in g.normal + g.reduce)


def test_only_none_in_primitives_raises():
    with pytest.raises(GenotypeError):
        parse_genotype(np.ones((14, 1)), np.ones((14, 1)), "darts", primitives=("none",))


# --- input types ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", PARSE_METHODS)
def test_lists_numpy_and_tensors_give_the_same_genotype(method):
    rng = np.random.default_rng(0)
    normal, reduce = rng.random((14, 7)), rng.random((14, 7))
    reference = parse_genotype(normal, reduce, method, threshold=0.6)
    assert reference.normal  # something survives, so the comparison means something
    variants = [
        (normal.tolist(), reduce.tolist()),
        (torch.tensor(normal), torch.tensor(reduce)),
        (torch.tensor(normal, dtype=torch.float32, requires_grad=True),
         torch.tensor(reduce, dtype=torch.float32, requires_grad=True)),
        (normal.astype(np.float32), reduce.astype(np.float32)),
    ]
    for n, r in variants:
        assert parse_genotype(n, r, method, threshold=0.6) == reference


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    pytest.param(np.full((14, 6), 0.5), id="too-few-ops"),
    pytest.param(np.full((14, 8), 0.5), id="too-many-ops"),
    pytest.param(np.full((13, 7), 0.5), id="rows-not-whole-nodes"),
    pytest.param(np.full((15, 7), 0.5), id="15-rows"),
    pytest.param(np.full((0, 7), 0.5), id="no-rows"),
    pytest.param(np.full(14, 0.5), id="1d"),
    pytest.param(np.full((2, 14, 7), 0.5), id="3d"),
    pytest.param([["a"] * 7] * 14, id="strings"),
    pytest.param([[0.5] * 7] * 13 + [[0.5] * 6], id="ragged"),
    pytest.param(np.where(np.eye(14, 7) > 0, np.nan, 0.5), id="nan"),
    pytest.param(np.where(np.eye(14, 7) > 0, np.inf, 0.5), id="inf"),
    pytest.param(None, id="none"),
])
@pytest.mark.parametrize("method", PARSE_METHODS)
def test_bad_weights_raise(bad, method):
    good = np.full((14, 7), 0.9)
    with pytest.raises(GenotypeError):
        parse_genotype(bad, good, method)
    with pytest.raises(GenotypeError):
        parse_genotype(good, bad, method)


def test_unknown_method_raises_and_names_the_valid_ones():
    with pytest.raises(GenotypeError) as info:
        parse_genotype(TIES, TIES, "threshold")
    for method in PARSE_METHODS:
        assert method in str(info.value)


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_threshold_out_of_range_raises(threshold):
    with pytest.raises(GenotypeError):
        parse_genotype(TIES, TIES, "threshold_sparse", threshold=threshold)


@pytest.mark.parametrize("method", ["threshold_sparse", "threshold_edge"])
def test_threshold_that_nothing_survives_gives_a_cell_without_outputs(method):
    # The library's contract (genotype.py / spaces/darts/evalnet.py): a threshold parse that keeps no edge
    # is a Genotype with empty cells, and building an evaluation network from it is a GenotypeError.
    from fairdarts_core.spaces.darts.evalnet import NetworkCIFAR

    g = parse_genotype(TIES, TIES, method, threshold=0.999)
    assert g.normal == () and g.reduce == ()
    assert output_nodes(g.normal, g.normal_concat) == ()
    assert Genotype.from_json(g.to_json()) == g
    with pytest.raises(GenotypeError):
        NetworkCIFAR(g, init_channels=4, layers=3)


# --- genotype_mask -------------------------------------------------------------------------
@pytest.mark.parametrize("primitives", [PRIMITIVES, DARTS_PRIMITIVES], ids=["fair", "darts"])
@pytest.mark.parametrize("method", PARSE_METHODS)
def test_mask_has_ones_exactly_on_parsed_edges_and_reparses_to_itself(method, primitives):
    rng = np.random.default_rng(2)
    normal, reduce = rng.random((14, len(primitives))), rng.random((14, len(primitives)))
    g = parse_genotype(normal, reduce, method, threshold=0.5, primitives=primitives)
    masks = genotype_mask(g, primitives)
    for name in ("normal", "reduce"):
        mask = masks[name]
        assert mask.shape == (14, len(primitives))
        expected = {(EDGES.index((src, dst)), primitives.index(op)) for op, dst, src in g.cell(name)[0]}
        ones = {tuple(ix) for ix in np.argwhere(mask == 1.0)}
        assert ones == expected
        assert np.count_nonzero(mask) == len(expected)
    # The mask is a fixed point: parsing it again gives the same (edge, op) pairs.
    again = parse_genotype(masks["normal"], masks["reduce"], method, threshold=0.5, primitives=primitives)
    again_masks = genotype_mask(again, primitives)
    for name in ("normal", "reduce"):
        assert np.array_equal(again_masks[name], masks[name])


@pytest.mark.parametrize("name", ["FairDARTS_a", "DARTS_V2", "PDARTS"])
def test_mask_of_a_published_genotype(name):
    from fairdarts_core.published import PUBLISHED_GENOTYPES

    g = PUBLISHED_GENOTYPES[name]
    masks = genotype_mask(g)
    assert masks["normal"].sum() == len(g.normal)
    assert masks["reduce"].sum() == len(g.reduce)


def test_mask_outside_the_search_space_raises():
    from fairdarts_core.published import PUBLISHED_GENOTYPES

    with pytest.raises(GenotypeError):
        genotype_mask(PUBLISHED_GENOTYPES["NASNet"])  # node 6 and sep_conv_7x7
