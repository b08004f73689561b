"""The NAS-Bench-201 study's own checks against the synthetic table (test_study_smoke.py runs what every study
must pass): the ground truth of every cell, and `report` adding ground truth afterwards. Tests that read its
smoke run are in its xdist group."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.experiments.stats import mean_std
from tests.benchmarks.study_runs import study_run, table_of, trials_of
from tests.conftest import assert_png

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray_left_running")]



@pytest.mark.xdist_group("nb201")
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


@pytest.mark.xdist_group("nb201")
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


@pytest.mark.xdist_group("nb201")
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


def test_ground_truth_curves_leave_out_rows_parsed_only_by_the_selection(tmp_path, monkeypatch):
    """fixed_alpha's per-epoch parse reads frozen uniform weights (every edge `none`): its row has no per-epoch
    cell of its own, so the curves show only rows with a parse of the search's weights."""
    from benchmarks import plots
    from benchmarks.experiments.nb201 import TEST, ground_truth_figures

    drawn = {}
    monkeypatch.setattr(plots, "plot_seed_curves", lambda frame, *a, **k: drawn.setdefault("labels", set(frame["label"])))
    trials = pd.DataFrame({"label": ["darts", "darts", "fixed_alpha"], "parse": ["argmax", "perturbation",
                                                                                 "perturbation"],
                           "status": "ok", "genotype": "-"})
    epochs = pd.DataFrame({"label": ["darts", "fixed_alpha"], "seed": 0, "epoch": 0, "stage": "search",
                           TEST: [90.0, 10.0]})
    ground_truth_figures(tmp_path, trials, epochs, None)
    assert drawn["labels"] == {"darts"}
