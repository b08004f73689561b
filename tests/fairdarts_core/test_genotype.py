"""Genotype: parsing the official repr strings (never by eval), round trips, validation, dead nodes."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pytest

from fairdarts_core.genotype import MAX_TEXT, Genotype, GenotypeError, computed_nodes, output_nodes
from fairdarts_core.published import PUBLISHED_GENOTYPES

JSON_PATH = Path(__file__).resolve().parents[2] / "fairdarts_core" / "data" / "published_genotypes.json"

# The DARTS repo's DARTS_V2 (genotypes.py), pairs form with lists.
DARTS_V2_STRING = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
    "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
    "reduce_concat=[2, 3, 4, 5])"
)

# The FairDARTS repo's FairDARTS_a, (op, to, from) triples and concat as range(2, 6).
FAIRDARTS_A_STRING = (
    "Genotype(normal=[('sep_conv_3x3', 2, 0), ('sep_conv_5x5', 2, 1), ('max_pool_3x3', 4, 0), "
    "('sep_conv_3x3', 5, 0)], normal_concat=range(2, 6), "
    "reduce=[('max_pool_3x3', 2, 0), ('avg_pool_3x3', 2, 1), ('avg_pool_3x3', 3, 0), ('dil_conv_5x5', 3, 1), "
    "('avg_pool_3x3', 4, 0), ('sep_conv_5x5', 4, 1), ('skip_connect', 5, 0), ('skip_connect', 5, 1)], "
    "reduce_concat=range(2, 6))"
)

# The PC-DARTS repo writes pairs with concat=range(2, 6).
PC_DARTS_STRING = (
    "Genotype(normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), ('dil_conv_3x3', 1), "
    "('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)], "
    "normal_concat=range(2, 6), "
    "reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2), "
    "('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)], "
    "reduce_concat=range(2, 6))"
)

VALID_NORMAL = "[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 2)]"


def _cell(normal, reduce=None, concat=(2, 3, 4, 5), style="edges"):
    reduce = normal if reduce is None else reduce
    return Genotype.darts(tuple(normal), tuple(concat), tuple(reduce), tuple(concat), style=style)


# ----- official strings ----------------------------------------------------------------------
def test_from_string_darts_pairs_form():
    g = Genotype.from_string(DARTS_V2_STRING)
    assert g.style == "pairs"
    # Pairs are assigned to nodes two at a time, in order.
    assert g.normal == (
        ("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 2, 1),
        ("sep_conv_3x3", 3, 0), ("sep_conv_3x3", 3, 1),
        ("sep_conv_3x3", 4, 1), ("skip_connect", 4, 0),
        ("skip_connect", 5, 0), ("dil_conv_3x3", 5, 2),
    )
    assert g.reduce[2] == ("skip_connect", 3, 2)
    assert g.normal_concat == (2, 3, 4, 5) and g.reduce_concat == (2, 3, 4, 5)
    assert g == PUBLISHED_GENOTYPES["DARTS_V2"]


def test_from_string_fairdarts_triples_with_range_concat():
    g = Genotype.from_string(FAIRDARTS_A_STRING)
    assert g.style == "edges"
    assert g.normal == (("sep_conv_3x3", 2, 0), ("sep_conv_5x5", 2, 1), ("max_pool_3x3", 4, 0),
                        ("sep_conv_3x3", 5, 0))
    assert g.normal_concat == (2, 3, 4, 5)
    assert g == PUBLISHED_GENOTYPES["FairDARTS_a"]


def test_from_string_pairs_with_range_concat():
    g = Genotype.from_string(PC_DARTS_STRING)
    assert g.normal_concat == (2, 3, 4, 5) and g.reduce_concat == (2, 3, 4, 5)
    assert g == PUBLISHED_GENOTYPES["PC_DARTS_cifar"]


def test_from_string_positional_arguments_and_whitespace():
    text = ("\n  Genotype([('sep_conv_3x3', 2, 0)], [2], [('max_pool_3x3', 2, 1)], range(2, 3))  \n")
    g = Genotype.from_string(text)
    assert g.normal == (("sep_conv_3x3", 2, 0),)
    assert g.reduce == (("max_pool_3x3", 2, 1),)
    assert g.normal_concat == (2,) and g.reduce_concat == (2,)


# ----- round trips over everything published -------------------------------------------------
def test_published_names_match_the_json_file():
    names = set(json.loads(JSON_PATH.read_text(encoding="utf-8")))
    assert set(PUBLISHED_GENOTYPES) == names
    assert len(PUBLISHED_GENOTYPES) == len(names)


@pytest.mark.parametrize("name", sorted(PUBLISHED_GENOTYPES))
def test_string_round_trip(name):
    g = PUBLISHED_GENOTYPES[name]
    text = g.to_string()
    assert text.startswith("Genotype(")
    back = Genotype.from_string(text)
    assert back == g
    assert back.to_string() == text


@pytest.mark.parametrize("name", sorted(PUBLISHED_GENOTYPES))
def test_json_round_trip(name):
    g = PUBLISHED_GENOTYPES[name]
    text = g.to_json()
    assert Genotype.from_json(text) == g
    assert Genotype.from_json(json.loads(text)) == g


@pytest.mark.parametrize("name", sorted(PUBLISHED_GENOTYPES))
def test_published_entry_matches_its_raw_json(name):
    raw = json.loads(JSON_PATH.read_text(encoding="utf-8"))[name]
    g = PUBLISHED_GENOTYPES[name]
    for cell in ("normal", "reduce"):
        edges = raw[cell]
        if len(edges[0]) == 2:  # DARTS (op, from) pairs, two per node
            expected = tuple((op, 2 + i // 2, src) for i, (op, src) in enumerate(edges))
            assert g.style == "pairs"
        else:
            expected = tuple(tuple(e) for e in edges)
        assert getattr(g, cell) == expected
        assert getattr(g, f"{cell}_concat") == tuple(raw[f"{cell}_concat"])


# ----- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("normal", [
    pytest.param([("sep_conv_9x9", 2, 0)], id="unknown-op"),
    pytest.param([("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 3, 3)], id="from-same-node"),
    pytest.param([("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 3, 4)], id="from-later-node"),
    pytest.param([("sep_conv_3x3", 2, -1)], id="from-negative-node"),
    pytest.param([("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 99, 0)], id="to-node-out-of-range"),
    pytest.param([("sep_conv_3x3", 1, 0)], id="to-input-node"),
    pytest.param([("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 2, 0)], id="duplicate-edge"),
    pytest.param([("sep_conv_3x3", 2)], id="pair-in-edge-form"),
    pytest.param([("sep_conv_3x3", "2", 0)], id="string-node"),
    pytest.param([("sep_conv_3x3", True, 0)], id="bool-node"),
])
def test_invalid_edges_raise(normal):
    ok = [("sep_conv_3x3", 2, 0)]
    with pytest.raises(GenotypeError):
        _cell(normal, ok)
    with pytest.raises(GenotypeError):
        _cell(ok, normal)


@pytest.mark.parametrize("concat", [(), (1, 2), (2, 2), (2, 99)], ids=["empty", "input-node", "twice", "too-big"])
def test_invalid_concat_raises(concat):
    with pytest.raises(GenotypeError):
        _cell([("sep_conv_3x3", 2, 0)], concat=concat)


def test_duplicate_edge_in_triple_form_raises_but_pairs_may_repeat():
    with pytest.raises(GenotypeError):
        Genotype.from_dict({"normal": [["sep_conv_3x3", 2, 0], ["sep_conv_3x3", 2, 0]], "normal_concat": [2],
                            "reduce": [["sep_conv_3x3", 2, 0]], "reduce_concat": [2]})
    # NASNet-style pairs may take the same op from the same input twice.
    g = Genotype.from_pairs([("sep_conv_3x3", 0), ("sep_conv_3x3", 0)], [2], [("skip_connect", 1)] * 2, [2])
    assert g.normal == (("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 2, 0))


def test_pairs_from_the_same_node_raise():
    with pytest.raises(GenotypeError):
        Genotype.from_pairs([("sep_conv_3x3", 0), ("sep_conv_3x3", 2)], [2], [("skip_connect", 1)] * 2, [2])


@pytest.mark.parametrize("text", [
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0)], normal_concat=[2, 3], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])",
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=[2], "
    "reduce=[('max_pool_3x3', 0)], reduce_concat=[2])",
])
def test_odd_number_of_pairs_raises(text):
    with pytest.raises(GenotypeError):
        Genotype.from_string(text)


@pytest.mark.parametrize("data", [
    pytest.param({"normal": [["sep_conv_3x3", 2, 0]], "normal_concat": [2], "reduce": [["sep_conv_3x3", 2, 0]]},
                 id="missing-key"),
    pytest.param({"normal": [["sep_conv_3x3", 2, 0]], "normal_concat": [2], "reduce": [["sep_conv_3x3", 2, 0]],
                  "reduce_concat": [2], "extra": 1}, id="unknown-key"),
    pytest.param({"normal": "sep_conv_3x3", "normal_concat": [2], "reduce": [["sep_conv_3x3", 2, 0]],
                  "reduce_concat": [2]}, id="cell-not-a-list"),
    pytest.param({"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 2, 1]], "normal_concat": [2],
                  "reduce": [["sep_conv_3x3", 2, 0]], "reduce_concat": [2]}, id="mixed-forms"),
    pytest.param({"normal": [["sep_conv_3x3", 2, 0]], "normal_concat": 2, "reduce": [["sep_conv_3x3", 2, 0]],
                  "reduce_concat": [2]}, id="concat-not-a-list"),
    pytest.param([1, 2, 3], id="not-an-object"),
])
def test_bad_json_raises(data):
    with pytest.raises(GenotypeError):
        Genotype.from_json(json.dumps(data))


def test_invalid_json_text_raises():
    with pytest.raises(GenotypeError):
        Genotype.from_json("{not json")


def test_genotype_is_frozen():
    g = PUBLISHED_GENOTYPES["FairDARTS_a"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.normal = ()  # type: ignore[misc]


# ----- malicious and bad strings -------------------------------------------------------------
def _payloads(marker: Path) -> list[str]:
    touch = f"__import__('os').system('touch {marker}')"
    rest = "normal_concat=[2], reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2]"
    return [
        touch,
        "__import__('os').system('touch /tmp/pwned')",
        f"Genotype(normal={touch}, {rest})",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat={touch}, "
        "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
        f"Genotype(normal=__import__('os').getcwd(), {rest})",
        f"Genotype(normal=[('sep_conv_3x3', 1)]*1000000000, {rest})",
        f"Genotype(normal=[('sep_conv_3x3', 1)] + [('sep_conv_3x3', 0)], {rest})",
        f"Genotype(normal=(lambda: {touch})(), {rest})",
        f"Genotype(normal=[(lambda: 'sep_conv_3x3')(), 0], {rest})",
        f"Genotype(normal=os.path, {rest})",
        f"Genotype(normal=[('sep_conv_3x3'.upper(), 0), ('sep_conv_3x3', 1)], {rest})",
        f"Genotype(normal=[(f'{{{touch}}}', 0), ('sep_conv_3x3', 1)], {rest})",
        f"Genotype(normal=[(PRIMITIVES[0], 0), ('sep_conv_3x3', 1)], {rest})",
        f"Genotype(normal=[(x, 0) for x in ['sep_conv_3x3', 'sep_conv_3x3']], {rest})",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=list(range(2, 3)), "
        "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=range(2, 10**9), "
        "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=range(2, 1000000000), "
        "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=range(2, 6, 1), "
        "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
        "Genotype(**{'normal': [('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], 'normal_concat': [2], "
        "'reduce': [('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], 'reduce_concat': [2]})",
        f"Genotype(*[[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)]], {rest})",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest}, evil={touch})",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest}, style='pairs')",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal=[], {rest})",
        f"genotypes.Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest})",
        f"NotGenotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest})",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest}); {touch}",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest})\n{touch}",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest}) or {touch}",
        f"[Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest})][0]",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1.0)], {rest})",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', True)], {rest})",
        f"Genotype(normal=[(b'sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest})",
        f"Genotype(normal={{('sep_conv_3x3', 0), ('sep_conv_3x3', 1)}}, {rest})",
        f"Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], {rest}",  # syntax error
        "",
        "Genotype()",
    ]


PAYLOAD_COUNT = len(_payloads(Path("/x")))


@pytest.mark.parametrize("index", range(PAYLOAD_COUNT))
def test_malicious_or_bad_strings_are_rejected_and_never_run(index, tmp_path):
    marker = tmp_path / "pwned"
    pwned_before = os.path.exists("/tmp/pwned")
    text = _payloads(marker)[index]
    with pytest.raises(GenotypeError):
        Genotype.from_string(text)
    assert not marker.exists()
    if not pwned_before:
        assert not os.path.exists("/tmp/pwned")


@pytest.mark.parametrize("value", [None, b"Genotype()", 42, ["Genotype"]], ids=["none", "bytes", "int", "list"])
def test_non_text_is_rejected(value):
    with pytest.raises(GenotypeError):
        Genotype.from_string(value)


def test_huge_string_is_rejected_quickly():
    valid = PUBLISHED_GENOTYPES["DARTS_V2"].to_string()
    text = valid + " " * (MAX_TEXT + 1)
    assert len(text) > 100_000
    start = time.perf_counter()
    with pytest.raises(GenotypeError):
        Genotype.from_string(text)
    huge_list = "Genotype(normal=[" + "('sep_conv_3x3', 0), " * 20_000 + "], normal_concat=[2], reduce=[], reduce_concat=[2])"
    assert len(huge_list) > 100_000
    with pytest.raises(GenotypeError):
        Genotype.from_string(huge_list)
    assert time.perf_counter() - start < 2.0


def test_long_but_allowed_string_with_too_many_edges_is_rejected():
    # Under the length limit, but thousands of pairs: all on nodes far out of range.
    text = ("Genotype(normal=[" + "('sep_conv_3x3', 0), " * 2000 + "], normal_concat=[2], "
            "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])")
    assert len(text) < MAX_TEXT
    with pytest.raises(GenotypeError):
        Genotype.from_string(text)


@pytest.mark.parametrize("depth", [3, 50, 190, 250, 1000, 40_000])
def test_deeply_nested_list_is_rejected(depth):
    nested = "[" * depth + "('sep_conv_3x3', 0)" + "]" * depth
    text = f"Genotype(normal={nested}, normal_concat=[2], reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], " \
           "reduce_concat=[2])"
    assert len(text) <= MAX_TEXT
    with pytest.raises(GenotypeError):
        Genotype.from_string(text)


# ----- dead nodes ----------------------------------------------------------------------------
DEAD_EDGES = (
    ("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 2, 1),
    # node 3: no input
    ("skip_connect", 4, 3),  # node 4: only from the dead node 3
    ("sep_conv_3x3", 5, 2), ("max_pool_3x3", 5, 4),
)


def test_computed_and_output_nodes_skip_dead_nodes():
    assert computed_nodes(DEAD_EDGES, (2, 3, 4, 5)) == (2, 5)
    assert output_nodes(DEAD_EDGES, (2, 3, 4, 5)) == (2, 5)
    # output_nodes keeps the concat order and drops nodes that are not listed.
    assert output_nodes(DEAD_EDGES, (5, 3, 2)) == (5, 2)
    assert output_nodes(DEAD_EDGES, (3, 4)) == ()


def test_chain_of_computed_nodes():
    edges = (("sep_conv_3x3", 2, 1), ("skip_connect", 3, 2), ("skip_connect", 4, 3), ("skip_connect", 5, 4))
    assert computed_nodes(edges, (2, 3, 4, 5)) == (2, 3, 4, 5)


def test_genotype_with_dead_nodes_is_valid():
    g = _cell(DEAD_EDGES)
    assert g.normal == DEAD_EDGES
    assert output_nodes(g.normal, g.normal_concat) == (2, 5)
    # A cell that computes none of its outputs is still a valid Genotype (a threshold parse can
    # keep nothing early in a search); building a network from it fails (test_evalnet).
    empty = _cell(DEAD_EDGES[:3], concat=(3, 4))
    assert output_nodes(empty.normal, empty.normal_concat) == ()


@pytest.mark.parametrize("style, edges, concat, where", [
    ("edges", (("sep_conv_3x3", 9, 0), ("sep_conv_3x3", 2, 1)), (2, 3, 4, 5), "(sep_conv_3x3, 9, 0)"),
    ("pairs", (("sep_conv_3x3", 2, 0), ("sep_conv_3x3", 2, 1)), (2, 3), "node 3"),
])
def test_edge_or_concat_outside_the_cell_is_an_error_naming_it(style, edges, concat, where):
    with pytest.raises(GenotypeError, match=re.escape(where)):
        _cell(edges, concat=concat, style=style)


def test_profile_of_an_edge_outside_the_cell_is_a_one_line_error(tmp_path, capsys):
    from benchmarks.cli import main

    path = tmp_path / "g.json"
    path.write_text(json.dumps({"normal": [["sep_conv_3x3", 9, 0]], "normal_concat": [2, 3, 4, 5],
                                "reduce": [["sep_conv_3x3", 2, 0]], "reduce_concat": [2, 3, 4, 5]}))
    assert main(["profile", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(sep_conv_3x3, 9, 0)" in err[0]


def test_published_fairdarts_a_normal_cell_has_a_dead_node():
    g = PUBLISHED_GENOTYPES["FairDARTS_a"]
    assert output_nodes(g.normal, g.normal_concat) == (2, 4, 5)
    assert output_nodes(g.reduce, g.reduce_concat) == (2, 3, 4, 5)
