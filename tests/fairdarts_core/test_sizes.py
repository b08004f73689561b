"""The presets: one Sizes each, the search and training a run starts from, combined with the variant's
published values, the space's protocol and sizes, and the run's overrides."""

from __future__ import annotations

import pytest

from fairdarts_core.search_config import SearchConfig
from fairdarts_core.sizes import PRESETS, config_from, sizes_for
from fairdarts_core.spaces import DEFAULT_SPACE
from fairdarts_core.train import TrainConfig
from variants import make_variant


def test_presets_are_named_in_order_and_an_unknown_one_names_the_valid():
    assert list(PRESETS) == ["paper", "quick", "smoke"]
    assert all(sizes.name == name for name, sizes in PRESETS.items())
    with pytest.raises(ValueError, match=r"^unknown preset 'fast'; valid: paper, quick, smoke$"):
        PRESETS.get("fast")


def test_search_config_presets_take_the_variants_learning_rates():
    fair, darts = make_variant("fair_darts"), make_variant("darts")
    assert PRESETS["paper"].search_config(fair).batch_size == 128
    assert PRESETS["paper"].search_config(fair).arch_learning_rate == 3e-3
    assert PRESETS["paper"].search_config(darts).batch_size == 64
    assert PRESETS["quick"].search_config(fair).arch_learning_rate == pytest.approx(3e-3 * 30)
    assert PRESETS["smoke"].search_config(fair).arch_learning_rate == pytest.approx(3e-3 * 200)
    assert PRESETS["quick"].search_config(darts, {"epochs": 9}).epochs == 9
    with pytest.raises(ValueError, match="unknown search option"):
        PRESETS["quick"].search_config(darts, {"epoch": 9})


def test_short_presets_keep_their_sizes_and_paper_takes_the_variants():
    fair = make_variant("fair_darts")
    assert fair.paper_search["batch_size"] == 128
    for name in ("quick", "smoke"):
        config = PRESETS[name].search_config(fair)
        assert (config.epochs, config.batch_size) == (PRESETS[name].search.epochs, PRESETS[name].search.batch_size)


def test_the_space_adds_its_protocol_and_its_sizes_for_the_preset():
    darts = make_variant("darts_v1")
    assert PRESETS["quick"].search_config(darts).space == DEFAULT_SPACE
    nb201 = PRESETS["quick"].search_config(darts, {"space": "nb201"})
    assert (nb201.space, nb201.nesterov, nb201.train_limit, nb201.epochs) == ("nb201", True, 2560, 4)
    assert PRESETS["paper"].train_config("nb201").epochs == 200
    assert PRESETS["paper"].train_config() == PRESETS["paper"].train_config(DEFAULT_SPACE) == PRESETS["paper"].train
    assert PRESETS["smoke"].train_config("nb201", {"seed": 3}).seed == 3


def test_training_presets_keep_the_published_protocol():
    assert PRESETS["paper"].train.epochs == 600 and PRESETS["paper"].train.batch_size == 96
    assert PRESETS["paper"].gpus_per_trial == 1.0 and PRESETS["quick"].gpus_per_trial == 0.25


def test_config_from_applies_overrides_ignores_none_and_refuses_unknown_keys():
    assert config_from(TrainConfig(), {"epochs": 3, "batch_size": None}) == TrainConfig(epochs=3)
    assert config_from(SearchConfig(), {"layers": 5}).layers == 5
    with pytest.raises(ValueError, match="unknown training option"):
        config_from(TrainConfig(), {"epoch": 3})
    with pytest.raises(ValueError, match="unknown search option"):
        config_from(SearchConfig(), {"epoch": 3})


def test_the_default_space_is_the_configs_default():
    assert SearchConfig().space == DEFAULT_SPACE


@pytest.mark.parametrize("name", list(PRESETS))
def test_on_the_digits_a_preset_is_its_own_sizes(name):
    assert sizes_for(name) is PRESETS[name] and sizes_for(name, "digits") is PRESETS[name]


def test_quick_on_an_image_set_trains_the_calibrated_protocol_and_searches_2560_images():
    """results/noise_cifar10 chose 10 epochs on 10,000 images at lr 0.05 for CIFAR-10; the search takes 2,560."""
    for dataset in ("folder", "cifar10"):
        sizes = sizes_for("quick", dataset)
        train = sizes.train_config("darts")
        assert (train.epochs, train.learning_rate, train.train_limit) == (10, 0.05, 10000)
        assert (train.init_channels, train.layers, train.batch_size) == (8, 5, 64)  # the quick network
        search = sizes.search_config(make_variant("darts_v1"))
        assert (search.train_limit, search.epochs, search.init_channels) == (2560, 4, 8)
        assert sizes.train_config("darts", {"epochs": 3}).epochs == 3  # a run's own overrides still win
        assert sizes.for_dataset(dataset) is sizes  # applied once


@pytest.mark.parametrize("name", ["paper", "smoke"])
def test_paper_and_smoke_sizes_do_not_depend_on_the_dataset(name):
    assert sizes_for(name, "folder") is PRESETS[name]


def test_an_unknown_preset_is_named_whatever_the_dataset():
    with pytest.raises(ValueError, match=r"^unknown preset 'fast'"):
        sizes_for("fast", "folder")
