"""Declarative experiment specs: what to run (settings x seeds x parse settings), never how (that is
the Ray driver's job, `benchmarks.driver`).

A trial is one (setting, seed): one search (or sampled / given genotype), then every parse setting
of the setting applied to the search's final weights, then one training per distinct genotype. Each
(setting, parse, seed) is a row of the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fairdarts_core.spaces.darts.parse import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes


@dataclass(frozen=True)
class Parse:
    """A parse setting applied after the search, to its final weights (and per epoch, to its history)."""

    label: str  # the row's name for it, e.g. "sparse 0.85"
    method: str  # a parse method of the setting's space
    threshold: float = DEFAULT_THRESHOLD  # sigma of the threshold methods


@dataclass(frozen=True)
class Setting:
    """One group of rows: a variant with options to search (or a sampler), or a fixed genotype to train."""

    label: str
    variant: str | None = None  # a variant or sampler name; None: no search, train `genotype`
    options: dict[str, Any] = field(default_factory=dict)  # variant options
    genotype: str | None = None  # a published name or genotype text / JSON
    search: dict[str, Any] = field(default_factory=dict)  # search config overrides (space, epochs, ...)
    train: bool = True  # False: stop after the parse and the profile
    parses: tuple[Parse, ...] = ()  # post-hoc parse settings; none: the variant's own parse
    train_overrides: dict[str, Any] = field(default_factory=dict)  # this setting's training, over the study's
    seeds: tuple[int, ...] = ()  # this setting's seeds instead of the study's (a random baseline's samples)

    def __post_init__(self) -> None:
        labels = [p.label for p in self.parses]
        if len(set(labels)) != len(labels):
            raise ValueError(f"setting {self.label}: parse labels repeat: {labels}")
        if self.parses and not self.variant:
            raise ValueError(f"setting {self.label}: parse settings need a search")

    def parse_labels(self) -> list[str]:
        return [p.label for p in self.parses] or [""]


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    settings: tuple[Setting, ...]
    seeds: tuple[int, ...]
    sizes: Sizes  # the preset every search and training of the study starts from
    train_overrides: dict[str, Any] = field(default_factory=dict)
    protocol: str = ""  # the fixed protocol, for the caption (written before the study runs)

    def __post_init__(self) -> None:
        labels = [s.label for s in self.settings]
        if len(set(labels)) != len(labels):
            raise ValueError(f"experiment {self.name}: setting labels repeat: {labels}")
        if not self.seeds:
            raise ValueError(f"experiment {self.name}: no seeds")

    def trial_configs(self) -> list[dict[str, Any]]:
        """Every trial as a plain dict (what Ray's grid expands to, in the same order)."""
        return [trial_config(self, s, seed) for s in self.settings for seed in self.seeds_of(s)]

    def seeds_of(self, setting: Setting) -> tuple[int, ...]:
        """The seeds a setting runs: its own where it has them, else the study's."""
        return setting.seeds or self.seeds

    def param_space(self, common: dict[str, Any], trials: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A Ray Tune param_space: a grid over the trials (settings x seeds, or the given subset), plus the
        values every trial shares. The trainable merges `trial` into the config."""
        from ray import tune

        return {**common, "trial": tune.grid_search(trials if trials is not None else self.trial_configs())}

    def check(self) -> None:
        """Fail before anything runs on a setting that cannot run: unknown variant, option, space or a
        parse method its space does not have (one-line ValueError)."""
        from fairdarts_core.spaces import DEFAULT_SPACE, get_space
        from fairdarts_core.variant import Variant
        from variants import make_method

        for s in self.settings:
            if not s.variant:
                continue
            method = make_method(s.variant, **s.options)
            space = get_space(s.search.get("space", DEFAULT_SPACE))
            if isinstance(method, Variant):
                method.check_space(space)
                self.sizes.search_config(method, s.search)
            for p in s.parses:
                try:
                    space.check_parse_method(p.method)
                except ValueError as err:
                    raise ValueError(f"experiment {self.name}, setting {s.label}, parse {p.label}: {err}") from None


def setting_dict(setting: Setting) -> dict[str, Any]:
    return {"label": setting.label, "variant": setting.variant, "options": dict(setting.options),
            "genotype": setting.genotype, "search": dict(setting.search), "train": setting.train,
            "parses": [{"label": p.label, "method": p.method, "threshold": p.threshold} for p in setting.parses]}


def trial_config(experiment: Experiment, setting: Setting, seed: int) -> dict[str, Any]:
    return {"setting": setting_dict(setting), "seed": seed, "experiment": experiment.name,
            "preset": experiment.sizes.name,
            "train_overrides": {**experiment.train_overrides, **setting.train_overrides}}


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


def row_name(label: str, parse: str) -> str:
    """The table's name of a (setting, parse) row."""
    return f"{label} | {parse}" if parse else label
