"""Parse-method names come from the spaces: each space's mapping, their union, the Variant option's
choices and the CLI's."""

from __future__ import annotations

import numpy as np
import pytest

from fairdarts_core.genotype import GenotypeError
from fairdarts_core.spaces import SPACES, get_space, parse_methods
from fairdarts_core.spaces.darts import DARTS, PRIMITIVES
from fairdarts_core.spaces.darts.parse import PARSE_METHODS, parse_genotype
from fairdarts_core.variant import Variant, literal_choices


def test_each_space_parses_with_its_own_mapping():
    assert DARTS.parse_methods == (*PARSE_METHODS, "perturbation") == ("darts", "threshold_sparse", "threshold_edge",
                                                                      "perturbation")
    for name in ("s1", "s2", "s3", "s4"):
        assert get_space(name).parse_methods == DARTS.parse_methods
    w = np.random.default_rng(0).random((14, len(PRIMITIVES)))
    for method in PARSE_METHODS:
        assert DARTS.parse({"normal": w, "reduce": w}, method, 0.5, PRIMITIVES) == \
            parse_genotype(w, w, method, 0.5)


def test_a_selection_method_parses_weights_alone_as_the_space_s_default():
    """perturbation needs the supernet (fairdarts_core.perturbation); on weights alone (a search's per-epoch
    records) it stands in with the space's first method."""
    w = np.random.default_rng(1).random((14, len(PRIMITIVES)))
    assert DARTS.parse({"normal": w, "reduce": w}, "perturbation", 0.5, PRIMITIVES) == \
        DARTS.parse({"normal": w, "reduce": w}, "darts", 0.5, PRIMITIVES)


def test_the_union_of_every_space_s_methods_in_space_order():
    methods = parse_methods()
    assert tuple(methods) == ("darts", "threshold_sparse", "threshold_edge", "argmax", "perturbation")
    assert set(methods) == {m for space in SPACES.values() for m in space.parse_methods}
    assert all(summary and "\n" not in summary for summary in methods.values())


def test_the_variant_option_takes_any_space_s_method_and_nothing_else():
    assert literal_choices(Variant, "parse_method") == tuple(parse_methods())
    assert Variant(parse_method="argmax").parse_method == "argmax"
    with pytest.raises(ValueError, match="parse_method must be one of darts, threshold_sparse, threshold_edge, "
                                         "argmax, perturbation, got 'top1'"):
        Variant(parse_method="top1")


def test_a_space_without_the_method_says_so():
    w = np.full((14, len(PRIMITIVES)), 0.5)
    with pytest.raises(ValueError, match="space darts has no parse method 'argmax'; valid: darts, "
                                         "threshold_sparse, threshold_edge"):
        DARTS.parse({"normal": w, "reduce": w}, "argmax", 0.5, PRIMITIVES)
    with pytest.raises(ValueError, match="no parse method 'argmax'"):
        Variant(parse_method="argmax").check_space(DARTS)
    with pytest.raises(GenotypeError, match="unknown parse method 'argmax'"):
        parse_genotype(w, w, "argmax")
