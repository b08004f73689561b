"""The study registry without running anything: every registered study implements `Study`, and a study
is built at a preset's sizes with its own seed count unless told otherwise."""

from __future__ import annotations

import inspect

import pytest

from benchmarks.experiments import EXPERIMENTS, Study, build_study
from benchmarks.experiments.stats import RANDOM_BASELINES, RANDOM_SAMPLES
from fairdarts_core.sizes import PRESETS


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_registered_study_implements_the_protocol(name):
    study = EXPERIMENTS[name]
    assert isinstance(study, Study)
    assert study.NAME == name and study.TITLE and isinstance(study.NEEDS_NB201_TABLE, bool)
    assert set(study.SEEDS) == set(PRESETS)
    assert list(inspect.signature(study.build).parameters)[:2] == ["sizes", "seeds"]
    for method in ("table", "figures"):  # the same parameters as the protocol's (bar self)
        expected = list(inspect.signature(getattr(Study, method)).parameters)[1:]
        assert list(inspect.signature(getattr(study, method)).parameters) == expected


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("preset", PRESETS)
def test_a_study_is_built_at_a_presets_sizes_with_its_seeds(name, preset):
    study, sizes = EXPERIMENTS[name], PRESETS[preset]
    experiment = build_study(study, sizes)
    assert experiment.name == name and experiment.sizes is sizes
    assert experiment.seeds == tuple(range(study.SEEDS[preset]))
    assert build_study(study, sizes, 2).seeds == (0, 1)
    assert {c["preset"] for c in experiment.trial_configs()} == {preset}


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("preset", PRESETS)
def test_a_trained_random_baseline_has_the_presets_samples_at_least(name, preset):
    """A random baseline's mean needs an interval: every trained random row runs RANDOM_SAMPLES seeds or more,
    its seeds the study's first ones (so that seed s of a method and of the baseline share the training seed)."""
    experiment = build_study(EXPERIMENTS[name], PRESETS[preset])
    for setting in experiment.settings:
        seeds = experiment.seeds_of(setting)
        if setting.variant in RANDOM_BASELINES and setting.train:
            assert len(seeds) >= RANDOM_SAMPLES[preset], setting.label
        assert seeds[: len(experiment.seeds)] == experiment.seeds[: len(seeds)]
    configs = experiment.trial_configs()
    assert len(configs) == sum(len(experiment.seeds_of(s)) for s in experiment.settings)
    assert len({(c["setting"]["label"], c["seed"]) for c in configs}) == len(configs)


def test_an_unknown_study_names_the_valid_ones():
    with pytest.raises(ValueError, match="^unknown experiment 'nope'; valid: stability, ablation, "):
        EXPERIMENTS.get("nope")
