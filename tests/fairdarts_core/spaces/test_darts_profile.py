"""Profiles of DARTS genotypes: FLOPs and params of the published genotypes against the published
tables; the shipped table of their paper-size profiles against fresh counts."""

from __future__ import annotations

import pytest

from fairdarts_core.metrics import count_params
from fairdarts_core.published import PUBLISHED_GENOTYPES, shipped_profiles
from fairdarts_core.spaces.darts import DARTS
from fairdarts_core.spaces.darts.evalnet import NetworkCIFAR
from fairdarts_core.spaces.darts.profile import cached_profile, profile_genotype

# (FLOPs M, params M, which params column the published figure uses), from
# shared/reference/README.md: C=36, 20 cells, thop with BatchNorm removed, one 3x32x32 image.
# DARTS_V2, PC-DARTS, P-DARTS and FairDARTS_c exclude the auxiliary head, the other FairDARTS
# figures include it.
PUBLISHED = {
    "FairDARTS_a": (373, 2.83, "params_with_aux_m"),
    "FairDARTS_b": (536, 3.88, "params_with_aux_m"),
    "FairDARTS_c": (400, 2.59, "params_m"),
    "FairDARTS_d": (532, 3.84, "params_with_aux_m"),
    "FairDARTS_e": (414, 3.12, "params_with_aux_m"),
    "FairDARTS_f": (497, 3.62, "params_with_aux_m"),
    "FairDARTS_g": (453, 3.38, "params_with_aux_m"),
    "PC_DARTS_cifar": (558, 3.63, "params_m"),
    "PDARTS": (532, 3.43, "params_m"),
}


@pytest.fixture(scope="module")
def profiles():
    return {}


def _profile(profiles, name):
    if name not in profiles:
        profiles[name] = profile_genotype(PUBLISHED_GENOTYPES[name])
    return profiles[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_flops_within_1_percent(name, profiles):
    flops, _, _ = PUBLISHED[name]
    got = _profile(profiles, name)["flops_m"]
    assert abs(got - flops) / flops < 0.01, f"{name}: {got:.1f}M FLOPs vs published {flops}M"


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_params_within_half_a_percent(name, profiles):
    _, params, column = PUBLISHED[name]
    got = _profile(profiles, name)[column]
    assert abs(got - params) / params < 0.005, f"{name}: {got:.3f}M {column} vs published {params}M"


def test_darts_v2_params_without_aux():
    # The published DARTS_V2 FLOPs (522M) are not checked: the thop count is ~528M (1.2% above).
    got = profile_genotype(PUBLISHED_GENOTYPES["DARTS_V2"])["params_m"]
    assert abs(got - 3.36) / 3.36 < 0.005


def test_profile_columns_and_aux_head_difference(profiles):
    p = _profile(profiles, "FairDARTS_a")
    assert set(p) == {"flops_m", "params_m", "params_with_aux_m"}
    model = NetworkCIFAR(PUBLISHED_GENOTYPES["FairDARTS_a"], 36, 20, 10, auxiliary=True)
    aux = sum(q.numel() for q in model.auxiliary.parameters())
    assert p["params_with_aux_m"] * 1e6 == pytest.approx(p["params_m"] * 1e6 + aux)
    assert count_params(model) == round(p["params_m"] * 1e6)
    assert count_params(model, include_aux=True) == round(p["params_with_aux_m"] * 1e6)


@pytest.mark.parametrize("name", sorted(PUBLISHED_GENOTYPES))
def test_the_shipped_profiles_equal_fresh_counts(name):
    """data/published_profiles.json (what `darts-bench genotypes` reads) must be what thop counts now;
    `python -m fairdarts_core.spaces.darts.profile` rewrites it."""
    genotype = PUBLISHED_GENOTYPES[name]
    shipped = shipped_profiles()
    assert genotype.to_json() in shipped, "the shipped table misses a published genotype (or thop changed)"
    fresh = profile_genotype(genotype)
    assert shipped[genotype.to_json()] == pytest.approx(fresh, rel=1e-12)
    assert cached_profile(genotype) == shipped[genotype.to_json()]
    assert DARTS.profile(genotype) == shipped[genotype.to_json()]


def test_profile_off_the_paper_size_is_counted():
    genotype = PUBLISHED_GENOTYPES["FairDARTS_a"]
    assert cached_profile(genotype, init_channels=4, layers=5) == profile_genotype(genotype, 4, 5)
    assert DARTS.profile(genotype, num_classes=5, init_channels=4, layers=5) == profile_genotype(genotype, 4, 5, 5)
    assert DARTS.profile(genotype, num_classes=5)["params_m"] != cached_profile(genotype)["params_m"]
