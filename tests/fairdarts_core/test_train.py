"""Evaluation training: records, checkpoints and an exact resume."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from fairdarts_core import PUBLISHED_GENOTYPES
from fairdarts_core.checkpoint import CheckpointError, load_checkpoint
from fairdarts_core.sizes import PRESETS
from fairdarts_core.train import TrainConfig, train

TINY = replace(PRESETS["smoke"].train, train_limit=32, test_limit=16, batch_size=8, epochs=2)


def test_records_have_the_per_epoch_metrics(tiny_set):
    records = list(train(PUBLISHED_GENOTYPES["FairDARTS_a"], tiny_set, tiny_set, TINY))
    assert [r["epoch"] for r in records] == [0, 1]
    assert records[0]["drop_path_prob"] == 0.0 and records[1]["drop_path_prob"] == pytest.approx(0.05)
    assert records[1]["lr"] < records[0]["lr"]
    for r in records:
        assert 0.0 <= r["test_acc"] <= 100.0 and r["train_loss"] > 0


def test_resume_equals_uninterrupted(tmp_path, tiny_set):
    g = PUBLISHED_GENOTYPES["DARTS_V2"]
    full = list(train(g, tiny_set, tiny_set, TINY, out_dir=tmp_path / "full"))
    run = train(g, tiny_set, tiny_set, TINY, out_dir=tmp_path / "cut")
    next(run)
    run.close()
    resumed = list(train(g, tiny_set, tiny_set, TINY, out_dir=tmp_path / "cut", resume=True))
    assert resumed[0]["resumed"] and "resumed" not in resumed[1]
    assert resumed[1]["test_loss"] == full[1]["test_loss"]
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt", kind="train")["model"]
    b = load_checkpoint(tmp_path / "cut" / "checkpoint.pt", kind="train")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_another_genotype(tmp_path, tiny_set):
    list(train(PUBLISHED_GENOTYPES["DARTS_V2"], tiny_set, tiny_set, replace(TINY, epochs=1), out_dir=tmp_path))
    with pytest.raises(ValueError, match="another genotype"):
        next(train(PUBLISHED_GENOTYPES["PDARTS"], tiny_set, tiny_set, TINY, out_dir=tmp_path, resume=True))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
