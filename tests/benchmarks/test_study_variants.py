"""The variants study's spec: its protocol names the digits' training measurement only on the digits."""

from __future__ import annotations

import pytest

from benchmarks.experiments import build_study, variants
from fairdarts_core.sizes import sizes_for


@pytest.mark.parametrize("dataset", ["digits", "folder"])
def test_protocol_quotes_the_digits_training_note_only_on_the_digits(dataset):
    experiment = build_study(variants, sizes_for("quick", dataset), dataset=dataset)
    assert (variants.TRAIN_NOTE in experiment.protocol) == (dataset == "digits")
    train = experiment.sizes.train_config("darts", experiment.train_overrides)
    assert (train.epochs, train.learning_rate) == (10, 0.05)  # the same training on either
    assert train.train_limit == (10000 if dataset == "folder" else sizes_for("quick").train.train_limit)
