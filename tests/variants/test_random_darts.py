"""Random DARTS: a sampler with the published constraints in the DARTS space."""

from __future__ import annotations

from fairdarts_core import profile_genotype
from fairdarts_core.spaces import get_space
from variants import make_method


def test_samples_respect_skips_and_the_flops_floor_and_repeat_from_the_seed():
    sampler = make_method("random_darts", count=2, skips=2, flops_floor_m=450.0)
    genotypes = sampler.sample(0, get_space("darts"))
    assert len(genotypes) == 2 and genotypes[0] != genotypes[1]
    for g in genotypes:
        assert g.skip_count("normal") == 2
        assert profile_genotype(g)["flops_m"] >= 450.0
    assert sampler.sample(0, get_space("darts")) == genotypes


def test_published_constraints_apply_in_the_darts_space_only():
    sampler = make_method("random_darts")
    assert sampler.constraints(get_space("darts")) == (2, 500.0)
    assert sampler.constraints(get_space("s3")) == (None, None)
