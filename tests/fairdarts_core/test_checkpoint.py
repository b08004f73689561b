"""Checkpoints: atomic files loaded with weights_only, corrupt ones refused, the run device's RNG state."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.checkpoint import (
    CheckpointError,
    load_checkpoint,
    resolve_device,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def test_round_trip_and_kind(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"kind": "train", "x": torch.arange(3)})
    assert torch.equal(load_checkpoint(path, kind="train")["x"], torch.arange(3))
    with pytest.raises(CheckpointError, match="expected 'search'"):
        load_checkpoint(path, kind="search")


def test_corrupt_and_missing_files_are_one_line_errors(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_cpu_runs_save_no_cuda_state_and_restore_the_cpu_generator():
    torch.manual_seed(3)
    state = rng_state("cpu")
    assert set(state) == {"torch"}
    a = torch.rand(3)
    set_rng_state(state, "cpu")
    assert torch.equal(torch.rand(3), a)


def test_cuda_runs_save_and_restore_their_own_gpu_only(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: calls.append(("get", device)) or torch.ones(4))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, device: calls.append(("set", device)))
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: pytest.fail("reads every GPU"))
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda s: pytest.fail("writes every GPU"))
    state = rng_state("cuda:1")
    set_rng_state(state, "cuda:1")
    assert calls == [("get", torch.device("cuda:1")), ("set", torch.device("cuda:1"))]
    set_rng_state({"torch": state["torch"], "cuda": [torch.ones(4)] * 8}, "cuda:0")  # an older, all-GPU state
    assert len(calls) == 2


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    with pytest.raises(ValueError, match="unsupported"):
        resolve_device("mps")
