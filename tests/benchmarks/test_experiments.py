"""The Ray Tune experiments end to end at the smoke preset: trials, tables, manifest, figures, report,
failed trials, resume, and refusing to overwrite. Each experiment runs once per module (fixtures) and
several tests read its folder; the driver starts and stops a local Ray itself, and no test may leave
it running."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import ray
from PIL import Image

from benchmarks.cli import build_parser, main
from benchmarks.experiments import EXPERIMENTS, run_experiment
from benchmarks.experiments.ablation import DEFAULT as ABLATION_DEFAULT
from benchmarks.experiments.stats import mean_std
from benchmarks.report import report
from fairdarts_core import PUBLISHED_GENOTYPES, Genotype, profile_genotype
from fairdarts_core.train import TRAIN_PRESETS

pytestmark = pytest.mark.slow

SMOKE_TRAIN = TRAIN_PRESETS["smoke"]
FIGURES = {
    "stability": {"accuracy_vs_flops.png", "skip_counts.png"},
    "ablation": {"accuracy.png", "disc_gap.png"},
    "comparison": {"accuracy_vs_flops.png"},
    "collapse": {"skip_counts.png", "accuracy.png"},
}
MANIFEST_KEYS = {"command", "git_sha", "versions", "device", "preset", "wall_seconds"}


def experiment_args(name: str, out: Path, *extra: str, **attributes) -> argparse.Namespace:
    """The Namespace the CLI builds for `darts-bench experiment NAME --preset smoke --out OUT --num-cpus 2`."""
    args = build_parser().parse_args(["experiment", name, "--preset", "smoke", "--out", str(out), "--num-cpus", "2",
                                      *extra])
    for key, value in attributes.items():
        setattr(args, key, value)
    return args


def run(args: argparse.Namespace) -> tuple[int, str]:
    """run_experiment with its stdout captured; Ray must be down afterwards, whatever happened."""
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            code = run_experiment(args)
    finally:
        assert not ray.is_initialized(), "run_experiment left Ray running"
    return code, stdout.getvalue()


def trials_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "trials.csv")


def table_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "table.csv", dtype=str, keep_default_na=False)


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 0, path
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 200 and image.height >= 100
        assert image.convert("L").getextrema()[0] < 128, f"{path} is blank"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def no_ray_left_running():
    yield
    assert not ray.is_initialized(), "a test left Ray running"


# ----- one run per experiment, shared by the tests below ---------------------------------------
@pytest.fixture(scope="module")
def stability_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stability") / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):  # through the CLI once, as a user runs it
        code = main(["experiment", "stability", "--preset", "smoke", "--out", str(out), "--num-cpus", "2"])
    assert code == 0
    assert not ray.is_initialized()
    assert "mean +- std" in stdout.getvalue()  # the table is printed at the end
    return out


@pytest.fixture(scope="module")
def ablation_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ablation") / "out"
    # 1 seed halves the slowest run; the p-values (Welch, 2+ seeds a side) are checked on a made-up frame below
    assert run(experiment_args("ablation", out, "--seeds", "1"))[0] == 0
    return out


@pytest.fixture(scope="module")
def comparison_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("comparison") / "out"
    assert run(experiment_args("comparison", out))[0] == 0  # smoke: FairDARTS_a, FairDARTS_b x 2 seeds
    return out


@pytest.fixture(scope="module")
def collapse_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("collapse") / "out"
    assert run(experiment_args("collapse", out, "--seeds", "1"))[0] == 0  # 1 seed keeps it under a minute
    return out


RUNS = {"stability": "stability_run", "ablation": "ablation_run", "comparison": "comparison_run",
        "collapse": "collapse_run"}
SEEDS = {"stability": 2, "ablation": 1, "comparison": 2, "collapse": 1}


def test_every_experiment_is_covered():
    assert set(RUNS) == set(EXPERIMENTS)


def expected_trials(name: str) -> list[tuple[str, int]]:
    experiment = EXPERIMENTS[name].build("smoke", seeds=SEEDS[name])
    return [(c["setting"]["label"], c["seed"]) for c in experiment.trial_configs()]


@pytest.mark.parametrize("name", list(RUNS))
def test_experiment_trials_all_finish(request, name):
    out = request.getfixturevalue(RUNS[name])
    trials = trials_of(out)
    assert list(zip(trials["label"], trials["seed"])) == expected_trials(name)
    assert (trials["status"] == "ok").all(), trials[["label", "seed", "status", "error"]]
    assert trials["test_acc"].between(0, 100).all() and (trials["flops_m"] > 0).all()


@pytest.mark.parametrize("name", list(RUNS))
def test_experiment_manifest(request, name):
    out = request.getfixturevalue(RUNS[name])
    manifest = json.loads((out / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["experiment"] == name and manifest["preset"] == "smoke"
    assert manifest["command"].strip()
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["git_sha"]), manifest["git_sha"]
    assert {"python", "torch", "ray"} <= set(manifest["versions"])
    assert manifest["device"].startswith("cpu")
    assert manifest["wall_seconds"] > 0
    assert manifest["seeds"] == list(range(SEEDS[name]))
    assert [r["resume"] for r in manifest["runs"]] == [False]


@pytest.mark.parametrize("name", list(RUNS))
def test_experiment_files(request, name):
    out = request.getfixturevalue(RUNS[name])
    assert {p.name for p in (out / "figures").glob("*.png")} >= FIGURES[name]
    for path in (out / "figures").glob("*.png"):
        assert_png(path)
    trials = trials_of(out)
    entries = [json.loads(line) for line in (out / "genotypes.jsonl").read_text().splitlines()]
    assert [(e["label"], e["seed"]) for e in entries] == list(zip(trials["label"], trials["seed"]))
    for entry in entries:
        if entry["status"] == "ok":
            Genotype.from_dict(entry["genotype"])
    epochs = pd.read_csv(out / "epochs.csv")
    ok = trials[trials["status"] == "ok"]
    train = epochs[epochs["stage"] == "train"]
    assert len(train) == SMOKE_TRAIN.epochs * len(ok)
    table_md = (out / "table.md").read_text()
    assert "preset `smoke`" in table_md and table_md.count("\n|") >= len(table_of(out))


@pytest.mark.parametrize("name", list(RUNS))
def test_report_regenerates_identical_tables(request, name):
    out = request.getfixturevalue(RUNS[name])
    before = {f: (out / f).read_bytes() for f in ("table.csv", "table.md")}
    (out / "table.csv").unlink()
    (out / "table.md").unlink()
    shutil.rmtree(out / "figures")
    written = report(out)
    assert {f: (out / f).read_bytes() for f in ("table.csv", "table.md")} == before
    assert {p.name for p in written if p.suffix == ".png"} >= FIGURES[name]
    for path in (out / "figures").glob("*.png"):
        assert_png(path)
    # The cells of every distinct finished genotype, and a weight histogram per searched setting.
    entries = [json.loads(line) for line in (out / "genotypes.jsonl").read_text().splitlines()]
    ok = [e for e in entries if e["status"] == "ok"]
    distinct = {(e["label"], json.dumps(e["genotype"], sort_keys=True)) for e in ok}
    assert len(list((out / "figures" / "cells").glob("*.png"))) == len(distinct)
    searched = {e["label"] for e in ok if e.get("weights")}
    assert len(list((out / "figures" / "weights").glob("*.png"))) == len(searched)


def test_report_through_the_cli(capsys, comparison_run):
    before = (comparison_run / "table.md").read_bytes()
    assert main(["report", str(comparison_run)]) == 0
    out = capsys.readouterr().out
    assert str(comparison_run / "table.md") in out
    assert (comparison_run / "table.md").read_bytes() == before


# ----- the tables ----------------------------------------------------------------------------
def test_stability_table(stability_run):
    table, trials = table_of(stability_run), trials_of(stability_run).sort_values("seed")
    assert list(table.columns) == ["Model", "FLOPs", "Params", "Params with aux", "Accuracy %"]
    assert list(table["Model"]) == ["FairDARTS_seed0", "FairDARTS_seed1", "mean +- std", "95% interval of the mean"]
    assert list(table["Accuracy %"][:2]) == [f"{a:.2f}" for a in trials["test_acc"]]
    assert list(table["FLOPs"][:2]) == [f"{f:.0f}M" for f in trials["flops_m"]]
    assert table["Accuracy %"][2] == mean_std(trials["test_acc"], 2)
    low, high = map(float, re.fullmatch(r"\[(\S+), (\S+)\]", table["Accuracy %"][3]).groups())
    assert low - 0.005 <= trials["test_acc"].mean() <= high + 0.005  # the interval is printed to 2 decimals
    epochs = pd.read_csv(stability_run / "epochs.csv")
    assert (epochs["stage"] == "search").sum() == 2 * 2  # smoke search: 2 epochs per seed


def test_ablation_table(ablation_run):
    table = table_of(ablation_run)
    labels = [s.label for s in EXPERIMENTS["ablation"].settings("smoke")]
    assert list(table["Setting"]) == labels  # one row per setting, failed ones included
    assert {"Accuracy %", "Disc. gap (pts)", "Skips (normal)", "FLOPs (M)", "p vs default", "n"} <= set(table.columns)
    rows = table.set_index("Setting")
    assert rows.loc[ABLATION_DEFAULT, "p vs default"] == "-"
    trials = trials_of(ablation_run)
    for label in labels:
        ok = (trials[(trials["label"] == label) & (trials["status"] == "ok")])
        assert rows.loc[label, "n"].split()[0] == str(len(ok))
        failed = (trials["label"] == label).sum() - len(ok)
        assert rows.loc[label, "n"] == str(len(ok)) + (f" ({failed} failed)" if failed else "")
    assert set(table["p vs default"]) == {"-"}  # one seed: Welch's test has nothing to compare


def test_ablation_table_p_values_and_failures():
    from scipy import stats

    from benchmarks.experiments import ablation

    acc = {ABLATION_DEFAULT: [10.0, 12.0, 11.5], "sigmoid, L2, w=0": [20.0, 23.0, None], "softmax, L2, w=10": [30.0]}
    rows = [{"label": label, "seed": seed, "status": "ok" if a is not None else "error", "test_acc": a,
             "search_disc_gap": 5.0, "search_near_01": 0.5, "skips_normal": 1, "flops_m": 400.0, "params_m": 3.0}
            for label, accs in acc.items() for seed, a in enumerate(accs)]
    table = ablation.table(pd.DataFrame(rows)).set_index("Setting")
    assert list(table.index) == list(acc)
    expected = stats.ttest_ind([20.0, 23.0], acc[ABLATION_DEFAULT], equal_var=False).pvalue
    assert table.loc["sigmoid, L2, w=0", "p vs default"] == f"{expected:.3f}"
    assert table.loc["sigmoid, L2, w=0", "n"] == "2 (1 failed)"
    assert table.loc["sigmoid, L2, w=0", "Accuracy %"] == "21.50 +- 2.12"
    assert table.loc["softmax, L2, w=10", "p vs default"] == "-"  # one value: no test
    assert table.loc[ABLATION_DEFAULT, "p vs default"] == "-" and table.loc[ABLATION_DEFAULT, "n"] == "3"


def test_comparison_table(comparison_run):
    table = table_of(comparison_run)
    assert list(table["Model"]) == ["FairDARTS_a", "FairDARTS_b"]
    assert {"FLOPs", "Params", "Batch size", "lr", "DP", "Optimizer", "Accuracy %", "n"} <= set(table.columns)
    rows = table.set_index("Model")
    trials = trials_of(comparison_run)
    for model in ("FairDARTS_a", "FairDARTS_b"):
        prof = profile_genotype(PUBLISHED_GENOTYPES[model])
        assert rows.loc[model, "FLOPs"] == f"{prof['flops_m']:.0f}M"
        assert rows.loc[model, "Batch size"] == str(SMOKE_TRAIN.batch_size)
        assert float(rows.loc[model, "lr"]) == SMOKE_TRAIN.learning_rate
        assert float(rows.loc[model, "DP"]) == SMOKE_TRAIN.drop_path_prob
        assert rows.loc[model, "Optimizer"] == "SGD + cosine"
        assert rows.loc[model, "Accuracy %"] == mean_std(trials.loc[trials["label"] == model, "test_acc"])
        assert rows.loc[model, "n"] == "2"


def test_collapse_table(collapse_run):
    table = table_of(collapse_run)
    assert list(table["Variant"]) == ["DARTS", "noise DARTS", "FairDARTS", "random DARTS"]
    assert {"Skips normal", "Skips reduce", "Disc. gap (pts)", "FLOPs (M)", "Accuracy %", "n"} <= set(table.columns)
    assert list(table["n"]) == ["1"] * 4
    rows = table.set_index("Variant")
    assert rows.loc["random DARTS", "Disc. gap (pts)"] == "-"  # no search, no gap
    assert rows.loc["random DARTS", "Skips normal"] == "2.0"  # random_darts draws exactly 2 skips
    trials = trials_of(collapse_run)
    assert trials.loc[trials["label"] == "DARTS", "search_disc_gap"].notna().all()


# ----- a failing trial ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("failed") / "out"
    code, _ = run(experiment_args("comparison", out, "--seeds", "1", fail_label="FairDARTS_b"))
    return out, code


def test_failed_trial_is_reported_and_the_others_finish(failed_run):
    out, code = failed_run
    assert code == 0
    trials = trials_of(out).set_index("label")
    assert trials.loc["FairDARTS_a", "status"] == "ok"
    assert trials.loc["FairDARTS_b", "status"] == "error"
    assert "injected failure" in trials.loc["FairDARTS_b", "error"]
    assert "RuntimeError" in (out / "work" / "FairDARTS_b__seed0" / "error.txt").read_text()
    assert (out / "work" / "FairDARTS_a__seed0" / "result.json").is_file()
    assert not (out / "work" / "FairDARTS_b__seed0" / "result.json").exists()


def test_failed_trial_is_marked_in_the_table(failed_run):
    out, _ = failed_run
    rows = table_of(out).set_index("Model")
    assert rows.loc["FairDARTS_b", "Accuracy %"] == "FAILED" and rows.loc["FairDARTS_b", "n"] == "0"
    assert rows.loc["FairDARTS_a", "Accuracy %"] != "FAILED" and rows.loc["FairDARTS_a", "n"] == "1"
    genotypes = {e["label"]: e for e in map(json.loads, (out / "genotypes.jsonl").read_text().splitlines())}
    assert genotypes["FairDARTS_b"]["status"] == "error" and genotypes["FairDARTS_b"]["genotype"] is None


# ----- resume --------------------------------------------------------------------------------
def _drop_trial(out: Path, key: str) -> None:
    work = out / "work" / key
    (work / "result.json").unlink()
    for name in ("history.csv", "checkpoint.pt"):
        (work / "train" / name).unlink()


def _state(out: Path, kept: str, dropped: str) -> dict:
    trials = trials_of(out)
    return {"kept_mtime": (out / "work" / kept / "result.json").stat().st_mtime_ns,
            "dropped_done": (out / "work" / dropped / "result.json").is_file(),
            "status": list(trials["status"]), "n": list(table_of(out)["n"]),
            "runs": [r["resume"] for r in json.loads((out / "manifest.json").read_text())["runs"]]}


@pytest.fixture(scope="module")
def resumed(tmp_path_factory) -> dict:
    """comparison smoke, 1 seed; drop FairDARTS_b's trial; resume with Ray's experiment state (Tuner.restore),
    drop it again; resume without it (a fresh Tuner over the same work folders)."""
    from ray import tune

    out = tmp_path_factory.mktemp("resume") / "out"
    kept, dropped = "FairDARTS_a__seed0", "FairDARTS_b__seed0"
    assert run(experiment_args("comparison", out, "--seeds", "1"))[0] == 0
    states = {"first": _state(out, kept, dropped)}
    _drop_trial(out, dropped)
    assert tune.Tuner.can_restore(str(out / "ray" / "comparison"))
    code, stdout = run(experiment_args("comparison", out, "--seeds", "1", "--resume"))
    assert code == 0 and "resuming" in stdout
    states["restored"] = _state(out, kept, dropped)
    if states["restored"]["dropped_done"]:
        _drop_trial(out, dropped)
    shutil.rmtree(out / "ray")
    assert run(experiment_args("comparison", out, "--seeds", "1", "--resume"))[0] == 0
    states["fresh"] = _state(out, kept, dropped)
    return states


def test_resume_never_reruns_a_finished_trial(resumed):
    first = resumed["first"]
    assert first["status"] == ["ok", "ok"]
    assert resumed["restored"]["kept_mtime"] == first["kept_mtime"]
    assert resumed["fresh"]["kept_mtime"] == first["kept_mtime"]
    assert resumed["fresh"]["runs"] == [False, True, True]


def test_resume_without_ray_state_reruns_the_lost_trial(resumed):
    fresh = resumed["fresh"]
    assert fresh["dropped_done"]
    assert fresh["status"] == ["ok", "ok"] and fresh["n"] == ["1", "1"]


def test_resume_with_ray_state_reruns_the_lost_trial(resumed):
    restored = resumed["restored"]
    assert restored["dropped_done"]
    assert restored["status"] == ["ok", "ok"] and restored["n"] == ["1", "1"]


# ----- refusing to overwrite -----------------------------------------------------------------
def test_second_run_without_resume_is_refused(comparison_run):
    files = snapshot(comparison_run)
    with pytest.raises(ValueError, match="--resume"):
        run(experiment_args("comparison", comparison_run))
    assert snapshot(comparison_run) == files


def test_second_run_without_resume_is_refused_by_the_cli(capsys, stability_run):
    files = snapshot(stability_run)
    code = main(["experiment", "stability", "--preset", "smoke", "--out", str(stability_run), "--num-cpus", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--resume" in lines[0]
    assert snapshot(stability_run) == files


def test_report_names_a_corrupt_genotypes_file(stability_run, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(stability_run, out, ignore=shutil.ignore_patterns("ray", "work"))
    with (out / "genotypes.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "genotypes.jsonl line" in err[0] and "not JSON" in err[0]
