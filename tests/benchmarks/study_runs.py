"""Helpers of the study tests: each registered study's smoke run (once per test session, through the CLI), the
checks every study's results folder must pass, and readers of a results folder. Every test that reads a study's
run is in that study's xdist group (`pytest.mark.xdist_group(NAME)`), so one worker runs it once and the two
workers share the studies."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import ray

from benchmarks.cli import main
from benchmarks.experiments import EXPERIMENTS, build_study
from benchmarks.report import report
from benchmarks.spec import row_name
from fairdarts_core import Genotype
from fairdarts_core.sizes import PRESETS
from tests.conftest import assert_png

SMOKE_TRAIN = PRESETS["smoke"].train
MANIFEST_KEYS = {"command", "git_sha", "versions", "device", "preset", "wall_seconds", "protocol"}
SEEDS = {"stability": 2, "comparison": 2}  # the others: 1 seed keeps them short


def captured(function, *args) -> tuple[object, str]:
    """function(*args) with its stdout captured; Ray must be down afterwards, whatever happened."""
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            value = function(*args)
    finally:
        assert not ray.is_initialized(), "the driver left Ray running"
    return value, stdout.getvalue()


def trials_of(out: Path) -> pd.DataFrame:
    trials = pd.read_csv(out / "trials.csv", dtype={"parse": str, "trained_as": str, "error": str})
    return trials.fillna({"parse": "", "trained_as": "", "error": ""})


def table_of(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "table.csv", dtype=str, keep_default_na=False)


# ----- each study's smoke run, once per session ----------------------------------------------------
_RUNS: dict[str, Path] = {}


def study_run(name: str, tmp_path_factory: pytest.TempPathFactory, nb201_table: Path | None = None) -> Path:
    """The results folder of `darts-bench experiment NAME --preset smoke` on one CPU, run once per session (a
    study that looks its cells up in NAS-Bench-201 gets `nb201_table`)."""
    if name not in _RUNS:
        out = tmp_path_factory.mktemp(name) / "out"
        argv = ["experiment", name, "--preset", "smoke", "--out", str(out), "--num-cpus", "1", "--device", "cpu",
                "--seeds", str(SEEDS.get(name, 1))]
        if EXPERIMENTS[name].NEEDS_NB201_TABLE:
            argv += ["--nb201-table", str(nb201_table)]
        code, stdout = captured(main, argv)
        assert code == 0, stdout
        assert any(line.startswith("| ") for line in stdout.splitlines()[-40:])  # the table is printed at the end
        _RUNS[name] = out
    return _RUNS[name]


# ----- what every study's folder holds -------------------------------------------------------------
def trained_labels(name: str) -> set[str]:
    """The settings of a study's smoke preset that train their cells (the others are looked up or profiled)."""
    return {s.label for s in build_study(EXPERIMENTS[name], PRESETS["smoke"], SEEDS.get(name, 1)).settings if s.train}


def expected_rows(name: str) -> list[tuple[str, str, int]]:
    experiment = build_study(EXPERIMENTS[name], PRESETS["smoke"], SEEDS.get(name, 1))
    return [(c["setting"]["label"], p, c["seed"]) for c in experiment.trial_configs()
            for p in ([p["label"] for p in c["setting"]["parses"]] or [""])]


def check_rows(name: str, out: Path) -> None:
    """Every row of the smoke preset is in trials.csv; ok rows have FLOPs and accuracies, failed ones say why."""
    trials = trials_of(out)
    assert list(zip(trials["label"], trials["parse"], trials["seed"])) == expected_rows(name)
    ok = trials[trials["status"] == "ok"]
    assert len(ok) >= 1
    assert ok["flops_m"].gt(0).all()
    trained = ok["label"].isin(trained_labels(name))
    assert ok.loc[trained, "test_acc"].between(0, 100).all()
    if not trained.all():  # not trained: NAS-Bench-201 cells with the table's accuracies
        assert ok.loc[~trained, "nb201_cifar10_test"].between(0, 100).all()
    failed = trials[trials["status"] != "ok"]
    assert failed["error"].astype(str).str.len().gt(0).all()  # every failed row says why


def check_manifest(name: str, out: Path) -> None:
    """manifest.json names the command, commit, versions, device, seeds and how the trials used their time."""
    manifest = json.loads((out / "manifest.json").read_text())
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["experiment"] == name and manifest["preset"] == "smoke"
    assert manifest["command"].startswith(f"darts-bench experiment {name} --preset smoke")
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["git_sha"]), manifest["git_sha"]
    assert {"python", "torch", "ray"} <= set(manifest["versions"])
    assert manifest["device"].startswith("cpu") and manifest["wall_seconds"] > 0
    assert manifest["seeds"] == list(range(SEEDS.get(name, 1)))
    assert [r["resume"] for r in manifest["runs"]] == [False]
    use = manifest["time_use"]  # the trials' time inside and outside the loops, the trial slot filled
    assert 0 < use["loop_seconds"] <= use["trial_seconds"] and 0 <= use["outside_loops_fraction"] < 1
    assert use["slots"] == 1 and 0 < use["slots_busy_fraction"] <= 1


def check_files_and_readme(name: str, out: Path) -> None:
    """genotypes.jsonl, epochs.csv, table.md, the figures and a README that shows them."""
    trials = trials_of(out)
    entries = [json.loads(line) for line in (out / "genotypes.jsonl").read_text().splitlines()]
    assert [(e["label"], e["parse"], e["seed"]) for e in entries] == \
        list(zip(trials["label"], trials["parse"], trials["seed"]))
    for entry in entries:
        if entry["status"] == "ok":
            Genotype.from_dict(entry["genotype"])
    epochs = pd.read_csv(out / "epochs.csv")
    trained = {(e["label"], e["seed"], json.dumps(e["genotype"], sort_keys=True)) for e in entries
               if e["status"] == "ok" and e["label"] in trained_labels(name)}
    assert (epochs["stage"] == "train").sum() == SMOKE_TRAIN.epochs * len(trained)
    table_md = (out / "table.md").read_text()
    assert "preset `smoke`" in table_md and table_md.count("\n|") >= len(table_of(out))
    readme = (out / "README.md").read_text()
    assert f"darts-bench experiment {name}" in readme and table_md.strip().splitlines()[-1] in readme
    for path in (out / "figures").glob("*.png"):
        assert_png(path)
        assert f"figures/{path.name}" in readme


def check_report_redraws(out: Path) -> None:
    """`report` rewrites identical tables and README and every figure: one cell figure per distinct row."""
    before = {f: (out / f).read_bytes() for f in ("table.csv", "table.md", "README.md")}
    pngs = {p.relative_to(out) for p in (out / "figures").rglob("*.png")}
    for f in before:
        (out / f).unlink()
    shutil.rmtree(out / "figures")
    written = report(out)
    assert {f: (out / f).read_bytes() for f in before} == before
    assert {p.relative_to(out) for p in written if p.suffix == ".png"} == pngs
    entries = [json.loads(line) for line in (out / "genotypes.jsonl").read_text().splitlines()]
    ok = [e for e in entries if e["status"] == "ok"]
    rows = {(row_name(e["label"], e["parse"]), json.dumps(e["genotype"], sort_keys=True)) for e in ok}
    assert len(list((out / "figures" / "cells").glob("*.png"))) == len(rows)
    searched = {e["label"] for e in ok if e.get("weights")}
    assert len(list((out / "figures" / "weights").glob("*.png"))) == len(searched)
