"""The stability and comparison studies' own checks (test_study_smoke.py runs what every study must pass): their
tables at two seeds each, and `report` through the CLI. Tests that read a study's smoke run are in its xdist
group."""

from __future__ import annotations

import re

import pytest

from benchmarks.cli import main
from benchmarks.experiments.stats import improvement, mean_std
from fairdarts_core import PUBLISHED_GENOTYPES, profile_genotype
from tests.benchmarks.study_runs import SMOKE_TRAIN, study_run, table_of, trials_of

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray_left_running")]



@pytest.mark.xdist_group("comparison")
def test_report_through_the_cli(capsys, tmp_path_factory):
    out = study_run("comparison", tmp_path_factory)
    before = (out / "table.md").read_bytes()
    assert main(["report", str(out)]) == 0
    assert str(out / "table.md") in capsys.readouterr().out
    assert (out / "table.md").read_bytes() == before


@pytest.mark.xdist_group("stability")
def test_stability_table(tmp_path_factory):
    out = study_run("stability", tmp_path_factory)
    table, trials = table_of(out), trials_of(out).sort_values("seed")
    assert list(table.columns) == ["Model", "FLOPs", "Params", "Params with aux", "Accuracy %"]
    assert list(table["Model"]) == ["FairDARTS_seed0", "FairDARTS_seed1", "mean +- std", "95% interval of the mean"]
    assert list(table["Accuracy %"][:2]) == [f"{a:.2f}" for a in trials["test_acc"]]
    assert list(table["FLOPs"][:2]) == [f"{f:.0f}M" for f in trials["flops_m"]]
    assert table["Accuracy %"][2] == mean_std(trials["test_acc"], 2)
    low, high = map(float, re.fullmatch(r"\[(\S+), (\S+)\]", table["Accuracy %"][3]).groups())
    assert low - 0.005 <= trials["test_acc"].mean() <= high + 0.005  # the interval is printed to 2 decimals


@pytest.mark.xdist_group("comparison")
def test_comparison_table(tmp_path_factory):
    out = study_run("comparison", tmp_path_factory)
    table = table_of(out)
    assert list(table["Model"]) == ["FairDARTS_a", "FairDARTS_b", "random_uniform"]
    rows = table.set_index("Model")
    trials = trials_of(out)
    random = trials.loc[trials["label"] == "random_uniform"]
    flops = random["flops_m"]
    assert rows.loc["random_uniform", "FLOPs"] == (mean_std(flops, 0) + "M"
                                                   if flops.nunique() > 1 else f"{flops.iloc[0]:.0f}M")
    assert rows.loc["random_uniform", "vs random_uniform (95% CI)"] == "-"
    assert rows.loc["FairDARTS_a", "vs random_uniform (95% CI)"] == improvement(
        trials.loc[trials["label"] == "FairDARTS_a", "test_acc"], random["test_acc"])
    for model in ("FairDARTS_a", "FairDARTS_b"):
        prof = profile_genotype(PUBLISHED_GENOTYPES[model])
        assert rows.loc[model, "FLOPs"] == f"{prof['flops_m']:.0f}M"
        assert rows.loc[model, "Batch size"] == str(SMOKE_TRAIN.batch_size)
        assert float(rows.loc[model, "lr"]) == SMOKE_TRAIN.learning_rate
        assert float(rows.loc[model, "DP"]) == SMOKE_TRAIN.drop_path_prob
        assert rows.loc[model, "Accuracy %"] == mean_std(trials.loc[trials["label"] == model, "test_acc"])
        assert rows.loc[model, "n"] == "2"
