"""The Ray Tune studies end to end at the smoke preset: every registered study runs once (fixtures cached
per module) and several tests read its folder: rows, tables, manifest, figures, README, report. The driver
starts and stops a local Ray itself (one CPU: the suite's other worker keeps the other core); no test may
leave it running."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import ray

from benchmarks.cli import main
from benchmarks.experiments import EXPERIMENTS, build_study
from benchmarks.experiments.ablation import DEFAULT as ABLATION_DEFAULT
from benchmarks.experiments.stats import mean_std
from benchmarks.report import report
from benchmarks.spec import row_name
from fairdarts_core import PUBLISHED_GENOTYPES, Genotype, profile_genotype
from fairdarts_core.sizes import PRESETS
from tests.benchmarks.study_runs import assert_png, captured, table_of, trials_of

pytestmark = pytest.mark.slow

SMOKE_TRAIN = PRESETS["smoke"].train
MANIFEST_KEYS = {"command", "git_sha", "versions", "device", "preset", "wall_seconds", "protocol"}
SEEDS = {"stability": 2, "comparison": 2}  # the others: 1 seed keeps them short




@pytest.fixture(autouse=True)
def no_ray_left_running():
    yield
    assert not ray.is_initialized(), "a test left Ray running"




# ----- every study, once ------------------------------------------------------------------------
_RUNS: dict[str, Path] = {}


@pytest.fixture(params=list(EXPERIMENTS))
def study(request, tmp_path_factory, nb201_table_file) -> tuple[str, Path]:
    """(name, results folder) of each registered study's smoke run, run once per session (a study that looks
    its cells up in NAS-Bench-201 gets the synthetic table)."""
    return request.param, _run_of(request.param, tmp_path_factory, nb201_table_file)


def trained_labels(name: str) -> set[str]:
    """The settings of a study's smoke preset that train their cells (the others are looked up or profiled)."""
    return {s.label for s in build_study(EXPERIMENTS[name], PRESETS["smoke"], SEEDS.get(name, 1)).settings if s.train}


def expected_rows(name: str) -> list[tuple[str, str, int]]:
    experiment = build_study(EXPERIMENTS[name], PRESETS["smoke"], SEEDS.get(name, 1))
    return [(c["setting"]["label"], p, c["seed"]) for c in experiment.trial_configs()
            for p in ([p["label"] for p in c["setting"]["parses"]] or [""])]


def test_every_study_runs_its_smoke_preset_with_every_row(study):
    name, out = study
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


def test_every_study_writes_its_manifest(study):
    name, out = study
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


def test_every_study_writes_its_files_and_readme(study):
    name, out = study
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


def test_report_redraws_identical_tables_and_every_figure(study):
    name, out = study
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


def test_report_through_the_cli(capsys, tmp_path_factory):
    out = _run_of("comparison", tmp_path_factory)
    before = (out / "table.md").read_bytes()
    assert main(["report", str(out)]) == 0
    assert str(out / "table.md") in capsys.readouterr().out
    assert (out / "table.md").read_bytes() == before


# ----- the tables ------------------------------------------------------------------------------
def _run_of(name: str, tmp_path_factory, nb201_table: Path | None = None) -> Path:
    """The study's smoke run, once per session (a study that needs an NB201 table gets `nb201_table`)."""
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


def test_stability_table(tmp_path_factory):
    out = _run_of("stability", tmp_path_factory)
    table, trials = table_of(out), trials_of(out).sort_values("seed")
    assert list(table.columns) == ["Model", "FLOPs", "Params", "Params with aux", "Accuracy %"]
    assert list(table["Model"]) == ["FairDARTS_seed0", "FairDARTS_seed1", "mean +- std", "95% interval of the mean"]
    assert list(table["Accuracy %"][:2]) == [f"{a:.2f}" for a in trials["test_acc"]]
    assert list(table["FLOPs"][:2]) == [f"{f:.0f}M" for f in trials["flops_m"]]
    assert table["Accuracy %"][2] == mean_std(trials["test_acc"], 2)
    low, high = map(float, re.fullmatch(r"\[(\S+), (\S+)\]", table["Accuracy %"][3]).groups())
    assert low - 0.005 <= trials["test_acc"].mean() <= high + 0.005  # the interval is printed to 2 decimals


def test_comparison_table(tmp_path_factory):
    out = _run_of("comparison", tmp_path_factory)
    table = table_of(out)
    assert list(table["Model"]) == ["FairDARTS_a", "FairDARTS_b"]
    rows = table.set_index("Model")
    trials = trials_of(out)
    for model in ("FairDARTS_a", "FairDARTS_b"):
        prof = profile_genotype(PUBLISHED_GENOTYPES[model])
        assert rows.loc[model, "FLOPs"] == f"{prof['flops_m']:.0f}M"
        assert rows.loc[model, "Batch size"] == str(SMOKE_TRAIN.batch_size)
        assert float(rows.loc[model, "lr"]) == SMOKE_TRAIN.learning_rate
        assert float(rows.loc[model, "DP"]) == SMOKE_TRAIN.drop_path_prob
        assert rows.loc[model, "Accuracy %"] == mean_std(trials.loc[trials["label"] == model, "test_acc"])
        assert rows.loc[model, "n"] == "2"


def test_ablation_parses_one_search_per_seed_and_says_how_it_compares(tmp_path_factory):
    out = _run_of("ablation", tmp_path_factory)
    table = table_of(out).set_index("Setting")
    assert table.loc[ABLATION_DEFAULT, "p vs default"] == "-"
    parse_rows = [r for r in table.index if r.startswith("sigmoid, L2, w=10 | ") and r != ABLATION_DEFAULT]
    assert parse_rows and set(table.loc[parse_rows, "test"]) == {"paired"}
    others = [r for r in table.index if not r.startswith("sigmoid, L2, w=10 | ")]
    assert set(table.loc[others, "test"]) == {"Welch"}
    assert "paired t-test" in (out / "table.md").read_text()
    searches = list((out / "work").glob("sigmoid__L2__w_10__seed*/search/alphas.json"))
    assert len(searches) == 1  # one seed: one search for all the default setting's parses


def test_ablation_table_paired_and_welch_p_values():
    from scipy import stats

    from benchmarks.experiments import ablation

    acc = {ABLATION_DEFAULT: [10.0, 12.0, 11.5], "sigmoid, L2, w=10 | darts": [11.0, 12.5, 13.0],
           "sigmoid, L2, w=0 | sparse 0.85": [20.0, 23.0, None], "softmax, L2, w=10 | darts": [30.0]}
    rows = []
    for row, accs in acc.items():
        label, _, parse = row.partition(" | ")
        rows += [{"row": row, "label": label, "parse": parse, "seed": seed,
                  "status": "ok" if a is not None else "error", "test_acc": a, "trained_as": "",
                  "search_disc_gap": 5.0, "search_near_01": 0.5, "skips_normal": 1, "flops_m": 400.0, "params_m": 3.0}
                 for seed, a in enumerate(accs)]
    table = ablation.table(pd.DataFrame(rows)).set_index("Setting")
    assert list(table.index) == list(acc)
    paired = stats.ttest_rel(acc["sigmoid, L2, w=10 | darts"], acc[ABLATION_DEFAULT]).pvalue
    assert table.loc["sigmoid, L2, w=10 | darts", ["p vs default", "test"]].tolist() == [f"{paired:.3f}", "paired"]
    welch = stats.ttest_ind([20.0, 23.0], acc[ABLATION_DEFAULT], equal_var=False).pvalue
    assert table.loc["sigmoid, L2, w=0 | sparse 0.85", ["p vs default", "test"]].tolist() == [f"{welch:.3f}", "Welch"]
    assert table.loc["sigmoid, L2, w=0 | sparse 0.85", "n"] == "2 (1 failed)"
    assert table.loc["softmax, L2, w=10 | darts", "p vs default"] == "-"  # one value: no test




# ----- NAS-Bench-201 ground truth ----------------------------------------------------------------
def test_nb201_study_looks_up_every_cell_and_adds_reference_rows(tmp_path_factory, nb201_table_file):
    from fairdarts_core.nb201_table import open_table

    out = _run_of("nb201", tmp_path_factory, nb201_table_file)
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
    source = _run_of("nb201", tmp_path_factory, nb201_table_file)
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
    source = _run_of("nb201", tmp_path_factory, nb201_table_file)
    out = tmp_path / "copy"
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("ray", "work"))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    bad = tmp_path / "bad.csv"
    bad.write_text("index,cell\n0,x\n")
    assert main(["report", str(out), "--nb201-table", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no 'arch' column" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
