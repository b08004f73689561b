"""The fair random baselines: uniform cells of a space (Yang et al. 2020) and uniform cells in a FLOPs window."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fairdarts_core.spaces import get_space
from variants import make_method


def test_uniform_draws_what_random_darts_draws_without_constraints():
    """The same draw and parse as random_darts, which has no constraint outside the DARTS space; in the DARTS
    space no skip count or FLOPs floor is asked for."""
    for space in ("nb201", "s3"):
        assert make_method("random_uniform", count=5).sample(3, get_space(space)) == \
            make_method("random_darts", count=5).sample(3, get_space(space))
    darts = make_method("random_uniform", count=20).sample(3, get_space("darts"))
    assert len(set(darts)) == 20 and {g.skip_count("normal") for g in darts} != {2}


def _space(flops_m: float, name: str = "darts"):
    return SimpleNamespace(name=name, profile=lambda genotype: {"flops_m": flops_m})


def test_flops_matched_keeps_cells_inside_its_window():
    sampler = make_method("random_flops_matched", flops_target_m=400.0, flops_tolerance=0.1)
    assert sampler.qualifies(None, _space(440.0)) and sampler.qualifies(None, _space(360.0))
    assert not sampler.qualifies(None, _space(441.0)) and not sampler.qualifies(None, _space(359.0))
    default = make_method("random_flops_matched")
    assert default.target(_space(0.0)) == 380.0 and default.target(_space(0.0, "nb201")) is None
    assert default.qualifies(None, _space(1.0, "nb201"))  # no target outside the DARTS space: uniform
    assert "FLOPs 380M +- 10%" in default.wanted(_space(0.0))


@pytest.mark.parametrize("options", [{"flops_target_m": -1.0}, {"flops_tolerance": 1.5}])
def test_flops_matched_rejects_a_bad_window(options):
    with pytest.raises(ValueError, match="flops_target_m > 0 and 0 < flops_tolerance < 1"):
        make_method("random_flops_matched", **options)
