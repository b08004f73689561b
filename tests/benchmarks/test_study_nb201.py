"""The NAS-Bench-201 studies (nb201, ablation_nb201) end to end at the smoke preset against the synthetic table:
their rows, manifest, files, README and report, the ground truth of every cell, and `report` adding ground truth
afterwards. The driver starts and stops a local Ray itself; no test may leave it running."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.experiments.stats import mean_std
from tests.benchmarks.study_runs import (
    STUDY_FILES, check_files_and_readme, check_manifest, check_report_redraws, check_rows, study_run, table_of,
    trials_of
)
from tests.conftest import assert_png

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray_left_running")]


@pytest.fixture(params=STUDY_FILES[Path(__file__).name])
def study(request, tmp_path_factory, nb201_table_file) -> tuple[str, Path]:
    """(name, results folder) of each study's smoke run, run once per session, with the synthetic table."""
    return request.param, study_run(request.param, tmp_path_factory, nb201_table_file)


def test_every_study_runs_its_smoke_preset_with_every_row(study):
    check_rows(*study)


def test_every_study_writes_its_manifest(study):
    check_manifest(*study)


def test_every_study_writes_its_files_and_readme(study):
    check_files_and_readme(*study)


def test_report_redraws_identical_tables_and_every_figure(study):
    check_report_redraws(study[1])


def test_nb201_study_looks_up_every_cell_and_adds_reference_rows(tmp_path_factory, nb201_table_file):
    from fairdarts_core.nb201_table import open_table

    out = study_run("nb201", tmp_path_factory, nb201_table_file)
    trials = trials_of(out)
    table = open_table(nb201_table_file)
    for _, row in trials[trials["status"] == "ok"].iterrows():
        assert row["nb201_cifar10_test"] == pytest.approx(table.lookup(row["genotype"])["cifar10_test"])
        assert row["nb201_percentile"] == pytest.approx(table.percentile("cifar10_test", row["nb201_cifar10_test"]))
    epochs = pd.read_csv(out / "epochs.csv")
    search = epochs[epochs["stage"] == "search"]
    assert search["nb201_cifar10_test"].between(0, 100).all()  # ground truth of the cell at every epoch
    shown = table_of(out).set_index("Method")
    for label, group in trials.groupby("label"):
        assert shown.loc[label, "Test % (ours)"] == mean_std(group["nb201_cifar10_test"])
    summary = json.loads((out / "benchmark.json").read_text())
    values = table.values("cifar10_test")
    assert shown.iloc[-1]["Test % (ours)"] == f"{values.max():.2f}"  # the optimum row
    assert shown.iloc[-2]["Test % (ours)"] == f"{values.mean():.2f} +- {values.std():.2f}"  # a random cell
    assert summary["param_free_chance"][">=4 of 6"] == pytest.approx(0.54432)
    assert_png(out / "figures" / "ground_truth_test.png")
    assert_png(out / "figures" / "final_ops.png")


def test_report_adds_ground_truth_without_rerunning(tmp_path, tmp_path_factory, nb201_table_file):
    source = study_run("nb201", tmp_path_factory, nb201_table_file)
    out = tmp_path / "copy"
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("ray", "work"))
    for name in ("trials.csv", "epochs.csv"):
        frame = pd.read_csv(out / name)
        frame.drop(columns=[c for c in frame if c.startswith("nb201_")]).to_csv(out / name, index=False)
    (out / "benchmark.json").unlink()
    assert main(["report", str(out), "--nb201-table", str(nb201_table_file)]) == 0
    for name in ("trials.csv", "epochs.csv"):
        before, after = pd.read_csv(source / name), pd.read_csv(out / name)
        columns = [c for c in before if c.startswith("nb201_")]
        assert columns and pd.testing.assert_frame_equal(after[columns], before[columns]) is None
    assert (out / "table.md").read_text() == (source / "table.md").read_text()


def test_ground_truth_bad_input_is_one_line_and_keeps_results(tmp_path, tmp_path_factory, capsys, nb201_table_file):
    assert main(["experiment", "nb201", "--preset", "smoke", "--out", str(tmp_path / "x"), "--num-cpus", "1"]) == 2
    assert "pass --nb201-table" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    source = study_run("nb201", tmp_path_factory, nb201_table_file)
    out = tmp_path / "copy"
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("ray", "work"))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    bad = tmp_path / "bad.csv"
    bad.write_text("index,cell\n0,x\n")
    assert main(["report", str(out), "--nb201-table", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no 'arch' column" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
