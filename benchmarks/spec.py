"""Declarative experiment specs: what to run (settings x seeds), never how (that is Ray's job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRESETS = ("paper", "quick", "smoke")


@dataclass(frozen=True)
class Setting:
    """One row group of a table: a variant with options to search, or a fixed genotype to train."""

    label: str
    variant: str | None = None  # None: no search, train `genotype`
    options: dict[str, Any] = field(default_factory=dict)
    genotype: str | None = None  # published name or genotype JSON
    search: dict[str, Any] = field(default_factory=dict)  # search config overrides
    train: bool = True  # False: stop after search + profile


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    settings: tuple[Setting, ...]
    seeds: tuple[int, ...]
    search_preset: str
    train_preset: str
    train_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        labels = [s.label for s in self.settings]
        if len(set(labels)) != len(labels):
            raise ValueError(f"experiment {self.name}: setting labels repeat: {labels}")
        if not self.seeds:
            raise ValueError(f"experiment {self.name}: no seeds")

    def trial_configs(self) -> list[dict[str, Any]]:
        """Every trial as a plain dict (what Ray's grid expands to, in the same order)."""
        return [trial_config(self, s, seed) for s in self.settings for seed in self.seeds]

    def param_space(self, common: dict[str, Any], trials: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A Ray Tune param_space: a grid over the trials (settings x seeds, or the given subset),
        plus the values every trial shares. The trainable merges `trial` into the config."""
        from ray import tune

        return {**common, "trial": tune.grid_search(trials if trials is not None else self.trial_configs())}


def setting_dict(setting: Setting) -> dict[str, Any]:
    return {"label": setting.label, "variant": setting.variant, "options": dict(setting.options),
            "genotype": setting.genotype, "search": dict(setting.search), "train": setting.train}


def trial_config(experiment: Experiment, setting: Setting, seed: int) -> dict[str, Any]:
    return {"setting": setting_dict(setting), "seed": seed, "experiment": experiment.name,
            "search_preset": experiment.search_preset, "train_preset": experiment.train_preset,
            "train_overrides": dict(experiment.train_overrides)}


def flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """A Tune config with its `trial` entry merged in (configs without one pass through)."""
    return {**config, **config.get("trial", {})}


def safe_name(text: str) -> str:
    """`text` as a file name: letters, digits and -_. kept, anything else an underscore."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def trial_key(config: dict[str, Any]) -> str:
    """A stable folder name for a trial: label and seed."""
    config = flat_config(config)
    return f"{safe_name(config['setting']['label'])}__seed{config['seed']}"
