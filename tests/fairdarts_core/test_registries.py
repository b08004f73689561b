"""The generic Registry and the registries built on it: lookups, order, and one-line errors that name
the kind and the valid names."""

from __future__ import annotations

import pytest

from fairdarts_core.families import GENOTYPE_FAMILIES
from fairdarts_core.ops import OPS, build_op
from fairdarts_core.registry import Registry
from fairdarts_core.sizes import PRESETS
from fairdarts_core.spaces import SPACES, get_space
from variants import METHODS, SAMPLERS, VARIANTS, make_method


def test_registry_keeps_order_and_reads_like_a_mapping():
    reg = Registry("colour", {"red": 1, "green": 2, "blue": 3})
    assert reg.get("green") == 2 and reg["blue"] == 3
    assert list(reg) == ["red", "green", "blue"] == list(reg.names())
    assert "red" in reg and "pink" not in reg and len(reg) == 3
    assert list(reg.items()) == [("red", 1), ("green", 2), ("blue", 3)] and list(reg.values()) == [1, 2, 3]
    assert dict(reg) == {"red": 1, "green": 2, "blue": 3}
    with pytest.raises(KeyError):
        reg["pink"]


@pytest.mark.parametrize("name", ["pink", "", None, ["red"]])
def test_an_unknown_name_is_a_one_line_value_error_naming_the_kind_and_the_valid(name):
    reg = Registry("colour", {"red": 1, "green": 2})
    with pytest.raises(ValueError) as err:
        reg.get(name)
    assert str(err.value) == f"unknown colour {name!r}; valid: red, green"


@pytest.mark.parametrize("registry, kind", [(SPACES, "space"), (OPS, "op"), (GENOTYPE_FAMILIES, "genotype family"),
                                            (VARIANTS, "variant"), (SAMPLERS, "sampler"), (METHODS, "variant"),
                                            (PRESETS, "preset")])
def test_every_registry_names_its_kind(registry, kind):
    assert isinstance(registry, Registry) and registry.kind == kind and len(registry)
    with pytest.raises(ValueError, match=f"^unknown {kind} 'nope'; valid: {', '.join(registry)}$"):
        registry.get("nope")


def test_methods_are_the_variants_then_the_samplers():
    assert list(METHODS) == [*VARIANTS, *SAMPLERS]


def test_the_lookup_functions_keep_their_messages():
    with pytest.raises(ValueError, match="unknown space 'nope'; valid: darts, nb201"):
        get_space("nope")
    with pytest.raises(ValueError, match="unknown op 'conv_9x9'; valid: none, "):
        build_op("conv_9x9", 4, 1)
    with pytest.raises(ValueError, match="unknown variant 'snas'; valid: darts, "):
        make_method("snas")
