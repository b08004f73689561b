"""The run sizes: each preset (paper, quick, smoke) is one `Sizes`, the search and training configs a run
starts from, per space where a space has its own, and per kind of data where an image set other than the
bundled digits needs its own. A preset's name and the dataset are resolved once, where a run starts
(`sizes_for(preset, dataset)`: the CLI commands, the study driver, a study's trial); everything after reads
the Sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from .data import DIGITS
from .registry import Registry
from .search_config import SearchConfig
from .spaces import DEFAULT_SPACE, get_space
from .train import TrainConfig
from .variant import Variant

Config = TypeVar("Config", SearchConfig, TrainConfig)
# A variant's published values that are sizes: the short presets keep their own.
SIZE_KEYS = ("epochs", "batch_size", "init_channels", "layers", "train_limit", "gap_images")
_KIND = {SearchConfig: "search", TrainConfig: "training"}


def config_from(base: Config, overrides: Mapping[str, Any]) -> Config:
    """`base` with the overrides applied (None values keep the base's); unknown keys are an error."""
    known = {f.name for f in fields(base)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown {_KIND[type(base)]} option(s): {', '.join(sorted(unknown))}")
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Sizes:
    """One preset: the search and training a run starts from, before the variant's published values, the
    space's protocol and sizes, and the run's own overrides."""

    name: str  # as the CLI and the manifests spell it
    search: SearchConfig
    train: TrainConfig
    published_sizes: bool  # the variant's published epochs and batch apply too (else only its learning rates)
    arch_lr_factor: float  # where they do not: the variant's published arch lr times this, so alphas move at all
    gpus_per_trial: float  # a study trial's GPUs on a CUDA machine unless --gpus-per-trial says otherwise
    space_search: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # {space: its search sizes}
    space_train: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # {space: its training sizes}
    # On an image set other than the bundled digits (CIFAR-10 and its JPEG copy): the search and training sizes
    # that replace the preset's (none: the preset's own apply to every dataset).
    image_search: Mapping[str, Any] = field(default_factory=dict)
    image_train: Mapping[str, Any] = field(default_factory=dict)

    def for_dataset(self, dataset: str) -> Sizes:
        """These sizes on `dataset`: the digits' as they are; on any other image set, with its own sizes."""
        if dataset == DIGITS or not (self.image_search or self.image_train):
            return self
        return replace(self, search=config_from(self.search, self.image_search),
                       train=config_from(self.train, self.image_train), image_search={}, image_train={})

    def search_config(self, variant: Variant, overrides: Mapping[str, Any] | None = None) -> SearchConfig:
        """The search of one variant in one space (overrides["space"], default darts): these sizes, then the
        variant's published hyperparameters (all of them, or all but the sizes with the arch lr scaled),
        then the space's protocol and its sizes for this preset, then the variant's published values for
        this space (`space_paper_search`, filtered the same way), then the overrides."""
        overrides = dict(overrides or {})
        space = get_space(overrides.get("space") or self.search.space)
        published, in_space = self._published(variant.paper_search), self._published(
            variant.space_paper_search.get(space.name, {}))
        own = {**space.search_protocol(), **self.space_search.get(space.name, {})}
        base = config_from(self.search, {**published, **own, **in_space, "space": space.name})
        return config_from(base, overrides)

    def _published(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A variant's published values at this preset: all, or all but the sizes with the arch lr scaled."""
        published = dict(values)
        if not self.published_sizes:
            published = {k: v for k, v in published.items() if k not in SIZE_KEYS}
            if "arch_learning_rate" in published:
                published["arch_learning_rate"] *= self.arch_lr_factor
        return published

    def train_config(self, space: str = DEFAULT_SPACE, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
        """The training in a space: these sizes, then the space's protocol and its sizes, then the overrides."""
        found = get_space(space)
        base = config_from(self.train, {**found.train_protocol(), **self.space_train.get(found.name, {})})
        return config_from(base, overrides or {})


# The quick preset on an image set (CIFAR-10: 50,000 training images of 10 classes, harder than the digits):
# training 10 epochs at lr 0.05 on the first 10,000 training images, scored on the whole test set. Chosen by
# the noise calibration (results/noise_cifar10): of the two protocols that fit a study in <= 2 hours on 2 cores,
# the one with the smaller training-seed std (0.60 points; ~520 s of one core a training). The search takes the
# first 2,560 images (1,280 weight + 1,280 arch, 40 steps an epoch at batch 32: NB201's quick search size),
# fixed before any study ran on CIFAR-10 (~100 s of one core an epoch for darts_v1).
IMAGE_SET_QUICK_SEARCH = {"train_limit": 2560}
IMAGE_SET_QUICK_TRAIN = {"epochs": 10, "learning_rate": 0.05, "train_limit": 10000}

# NB201's sizes per preset; the other sizes are the preset's (quick: 4 epochs, batch 32; smoke: 2 epochs,
# batch 16). quick: C=8 and N=5 (the benchmark's depth at the DARTS quick preset's width) on 2,560 digits
# (1,280 + 1,280, 40 steps an epoch), so that `darts-bench search --space nb201 --variant darts_v1 --preset
# quick` takes about as long as the DARTS-space quick search: a search step costs 0.35x the DARTS quick
# supernet's (0.89 vs 2.55 CPU s, batch 32, one thread), and it takes 40 steps an epoch instead of 14.
PRESETS: Registry[Sizes] = Registry("preset", {
    # The published protocols (CIFAR-10): the variant supplies its search epochs, batch and learning rates;
    # training 600 epochs, batch 96, lr 0.025, C=36, 20 cells. NB201: its own search and its 200-epoch training.
    "paper": Sizes(
        "paper", SearchConfig(), TrainConfig(), published_sizes=True, arch_lr_factor=1.0, gpus_per_trial=1.0,
        space_search={"nb201": {"epochs": 50, "batch_size": 64, "learning_rate": 0.025, "learning_rate_min": 0.001,
                                "init_channels": 16, "layers": 5}},
        space_train={"nb201": {"epochs": 200, "batch_size": 256, "learning_rate": 0.1, "init_channels": 16,
                               "layers": 5}}),
    # CPU, bundled digits: search C=8, 5 cells, 896 images (448 + 448), 4 epochs, the arch lr x30 (56 arch
    # steps instead of a paper search's ~10,000); training C=8, 5 cells, 3 epochs.
    "quick": Sizes(
        "quick", SearchConfig(epochs=4, batch_size=32, init_channels=8, layers=5, train_limit=896, gap_images=256),
        TrainConfig(epochs=3, batch_size=64, init_channels=8, layers=5, learning_rate=0.05, cutout=8,
                    drop_path_prob=0.1),
        published_sizes=False, arch_lr_factor=30.0, gpus_per_trial=0.25,
        space_search={"nb201": {"init_channels": 8, "layers": 5, "train_limit": 2560}},
        space_train={"nb201": {"init_channels": 8, "layers": 5}},
        image_search=IMAGE_SET_QUICK_SEARCH, image_train=IMAGE_SET_QUICK_TRAIN),
    # Seconds, for tests: a tiny net on 64 (search) and 128 (training) images; 4 arch steps, the arch lr x200.
    "smoke": Sizes(
        "smoke", SearchConfig(epochs=2, batch_size=16, init_channels=4, layers=3, train_limit=64, gap_images=16),
        TrainConfig(epochs=2, batch_size=32, init_channels=4, layers=3, train_limit=128, test_limit=64, cutout=8,
                    drop_path_prob=0.1),
        published_sizes=False, arch_lr_factor=200.0, gpus_per_trial=0.25,
        space_search={"nb201": {"init_channels": 4, "layers": 1}},
        space_train={"nb201": {"init_channels": 4, "layers": 1}}),
})


def sizes_for(preset: str, dataset: str = DIGITS) -> Sizes:
    """The sizes of a run: the preset by name (a one-line error names the valid ones) on that dataset."""
    return PRESETS.get(preset).for_dataset(dataset)
