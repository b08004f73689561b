"""The Ray driver with specs of the tests' own: the parse axis (one search per seed, one training per
distinct genotype), failed trials, resume after a kill, refusing to overwrite, and GPUs. No test may leave
Ray running."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import ray

from benchmarks.cli import main
from benchmarks.driver import RunOptions, resolve_gpus, run
from benchmarks.spec import Experiment, Parse, Setting
from fairdarts_core import Genotype
from fairdarts_core.sizes import PRESETS
from tests.benchmarks.study_runs import captured, trials_of
from tests.conftest import snapshot

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray_left_running")]


# ----- the parse axis, failures and resume with specs of the tests' own ---------------------------
PARSE_SPEC = Experiment(
    "parse-axis", "four parses of one search", (Setting("fair", "fair_darts", parses=(
        Parse("darts", "darts"), Parse("sparse 0", "threshold_sparse", 0.0), Parse("sparse 0.01", "threshold_sparse", 0.01),
        Parse("sparse 1", "threshold_sparse", 1.0))),
        Setting("bad", "fair_darts", {"zero_one_weight": float("nan")})),
    seeds=(0,), sizes=PRESETS["smoke"],
    train_overrides={"epochs": 1, "train_limit": 64, "test_limit": 64})  # sigma 0 keeps every op: a big cell to train


def _options(**kw) -> RunOptions:
    return RunOptions(num_cpus=2, command="test", **kw)


@pytest.fixture(scope="module")
def parse_axis(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("parse") / "out"
    captured(run, PARSE_SPEC, out, _options())
    return out


def test_parse_settings_share_one_search_and_identical_genotypes_one_training(parse_axis):
    trials = trials_of(parse_axis).set_index("row")
    work = parse_axis / "work" / "fair__seed0"
    assert len(list(work.glob("search/alphas.json"))) == 1
    history = pd.read_csv(work / "search" / "history.csv")
    for parse in ("darts", "sparse 0", "sparse 0.01"):
        assert f"genotype@{parse}" in history and history[f"skip_normal@{parse}"].notna().all()
    # Sigmoid weights all exceed 0.01 this early: sigma 0 and 0.01 keep the same edges, one training for both.
    assert trials.loc["fair | sparse 0", "genotype"] == trials.loc["fair | sparse 0.01", "genotype"]
    assert trials.loc["fair | sparse 0.01", "trained_as"] == "sparse 0"
    assert trials.loc["fair | sparse 0.01", "test_acc"] == trials.loc["fair | sparse 0", "test_acc"]
    # The DARTS rule keeps the same edges, but as pairs, which drop paths per edge: another genotype.
    assert Genotype.from_json(trials.loc["fair | darts", "genotype"]).style == "pairs"
    ok = trials[trials["status"] == "ok"]
    trainings = list(work.glob("train_*/result.json"))
    assert len(trainings) == len(set(ok["genotype"])) == 2
    # sigma 1: no edge reaches it, the cell cannot be built: a failed row of its own, not a failed search.
    assert trials.loc["fair | sparse 1", "status"] == "error" and "no network" in trials.loc["fair | sparse 1", "error"]


def test_a_failing_trial_is_reported_and_the_others_finish(parse_axis):
    trials = trials_of(parse_axis).set_index("row")
    assert trials.loc["bad", "status"] == "error" and trials.loc["bad", "error"]
    assert "Error" in (parse_axis / "work" / "bad__seed0" / "error.txt").read_text()
    assert not (parse_axis / "work" / "bad__seed0" / "result.json").exists()
    assert (parse_axis / "work" / "fair__seed0" / "result.json").is_file()


def test_resume_after_a_kill_between_two_trainings_reruns_neither_the_search_nor_a_finished_training(
        parse_axis, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(parse_axis, out)
    work = out / "work" / "fair__seed0"
    trainings = sorted(work.glob("train_*"))
    assert len(trainings) >= 2
    (work / "result.json").unlink()  # as if killed after the first training finished
    shutil.rmtree(trainings[-1])
    kept = {p: p.stat().st_mtime_ns for p in [work / "search" / "alphas.json", *trainings[0].glob("*")]}
    shutil.rmtree(out / "ray")
    captured(run, PARSE_SPEC, out, _options(resume=True))
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert (trainings[-1] / "result.json").is_file()
    assert trials_of(out).drop(columns=["search_seconds", "train_seconds", "trial_seconds"]).equals(
        trials_of(parse_axis).drop(columns=["search_seconds", "train_seconds", "trial_seconds"]))
    assert [r["resume"] for r in json.loads((out / "manifest.json").read_text())["runs"]] == [False, True]


def test_resume_with_rays_state_keeps_finished_trials(parse_axis, tmp_path):
    from ray import tune

    out = tmp_path / "out"
    shutil.copytree(parse_axis, out)
    stamp = (out / "work" / "fair__seed0" / "result.json").stat().st_mtime_ns
    assert tune.Tuner.can_restore(str(out / "ray" / PARSE_SPEC.name))
    _, stdout = captured(run, PARSE_SPEC, out, _options(resume=True))
    assert "resuming" in stdout
    assert (out / "work" / "fair__seed0" / "result.json").stat().st_mtime_ns == stamp


def test_a_parse_method_the_space_lacks_is_an_error_before_anything_runs(tmp_path):
    spec = Experiment("bad-parse", "t", (Setting("x", "darts", search={"space": "s3"},
                                                 parses=(Parse("a", "argmax"),)),), (0,), PRESETS["smoke"])
    with pytest.raises(ValueError, match="parse a: space s3 has no parse method 'argmax'"):
        run(spec, tmp_path / "out", _options())
    assert not (tmp_path / "out").exists() and not ray.is_initialized()


# ----- refusing to overwrite; devices -------------------------------------------------------------
def test_second_run_without_resume_is_refused_and_changes_nothing(parse_axis, capsys):
    files = snapshot(parse_axis)
    with pytest.raises(ValueError, match="--resume"):
        run(PARSE_SPEC, parse_axis, _options())
    assert snapshot(parse_axis) == files
    out = parse_axis
    code = main(["experiment", "stability", "--preset", "smoke", "--out", str(out), "--num-cpus", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1 and "--resume" in err


def test_studies_use_the_gpu_when_there_is_one_and_never_silently_the_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_gpus("auto", None, PRESETS["paper"]) == (1.0, 2)
    assert resolve_gpus("auto", None, PRESETS["quick"]) == (0.25, 2)
    assert resolve_gpus("cuda", 0.5, PRESETS["quick"]) == (0.5, 2)
    assert resolve_gpus("cpu", None, PRESETS["paper"]) == (0.0, 0)
    with pytest.raises(ValueError, match="the device is the CPU"):
        resolve_gpus("cpu", 1.0, PRESETS["paper"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_gpus("auto", None, PRESETS["paper"]) == (0.0, 0)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_gpus("cuda", None, PRESETS["paper"])


def test_a_trial_given_a_gpu_it_cannot_see_fails_instead_of_using_the_cpu(monkeypatch):
    import torch

    from benchmarks.trials import trial_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="sees no CUDA device"):
        trial_device({"gpus_per_trial": 0.25})
    assert trial_device({"gpus_per_trial": 0}) == "cpu"
    fractions = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", fractions.append)
    assert trial_device({"gpus_per_trial": 0.25}) == "cuda"
    assert trial_device({"gpus_per_trial": 1}) == "cuda"
    assert fractions == [0.25]  # a packed trial keeps to its share of the memory; a whole GPU is its own


@pytest.mark.gpu
def test_on_a_gpu_machine_studies_and_trials_use_it():
    import torch

    from benchmarks.trials import trial_device

    assert resolve_gpus("auto", None, "paper") == (1.0, torch.cuda.device_count())
    assert trial_device({"gpus_per_trial": 1}) == "cuda"


def test_cli_experiment_without_a_gpu_for_gpus_per_trial_is_one_line(capsys, tmp_path):
    code = main(["experiment", "comparison", "--preset", "smoke", "--out", str(tmp_path / "o"), "--device", "cpu",
                 "--gpus-per-trial", "1"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "GPU" in err
    assert not (tmp_path / "o").exists()


def test_report_names_a_corrupt_genotypes_file(parse_axis, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(parse_axis, out, ignore=shutil.ignore_patterns("ray", "work"))
    with (out / "genotypes.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "genotypes.jsonl line" in err[0] and "not JSON" in err[0]


def test_report_of_a_folder_from_another_version_is_one_line(parse_axis, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(parse_axis, out, ignore=shutil.ignore_patterns("ray", "work"))
    trials = pd.read_csv(out / "trials.csv").drop(columns=["row"])
    trials.to_csv(out / "trials.csv", index=False)
    table = (out / "table.md").read_bytes()
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column 'row'" in err[0] and "Traceback" not in err[0]
    assert (out / "table.md").read_bytes() == table  # nothing rewritten


def test_a_folder_of_a_study_still_running_is_refused(tmp_path, capsys):
    """A study writes manifest.json only at its end: a second study into the folder of one that is still
    running (work/ and ray/ only) must be refused too, not mix its trials in."""
    out = tmp_path / "running"
    (out / "work" / "x__seed0").mkdir(parents=True)
    files = snapshot(out)
    with pytest.raises(ValueError, match="already holds files of a study"):
        run(PARSE_SPEC, out, _options())
    assert snapshot(out) == files and not ray.is_initialized()


def _event_scalars(path: Path) -> dict[str, list[float]]:
    """{tag: values} of a TensorBoard event file (TFRecord framing: length, its CRC, the Event, its CRC)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    data, scalars, at = path.read_bytes(), {}, 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        event = Event.FromString(data[at + 12:at + 12 + length])
        at += 12 + length + 4
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append(value.simple_value)
    return scalars


def test_tune_keeps_each_trials_search_curves_for_tensorboard(parse_axis):
    """`tensorboard --logdir OUT/ray` shows every trial's per-epoch search indicators (Tune's loggers)."""
    events = sorted((parse_axis / "ray").rglob("events.out.tfevents.*"))
    assert events
    scalars = {}
    for path in events:
        scalars.update(_event_scalars(path))
    for key in ("val_acc", "disc_gap", "zero_one_loss", "near_01"):
        assert len(scalars[f"ray/tune/search/{key}"]) >= 2  # two smoke epochs
