"""`darts-bench parse RUN_DIR --method perturbation` (DARTS-PT's selection on a search folder) and a trial whose
variant parses by perturbation: its files, its one-line errors, its seconds beside the search's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.cli import main
from benchmarks.pipeline import run_search
from benchmarks.spec import Setting, setting_dict
from benchmarks.trials import run_trial
from fairdarts_core.data import load_digits
from fairdarts_core.genotype import Genotype
from fairdarts_core.search_config import SearchConfig
from variants import make_variant

TINY_NB201 = SearchConfig(space="nb201", epochs=1, batch_size=8, init_channels=4, layers=1, train_limit=48,
                          gap_images=8)


@pytest.fixture(scope="module")
def nb201_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pt") / "search"
    run_search(make_variant("darts_v1"), load_digits()[0], TINY_NB201, out, figures=False)
    return out


def test_parse_run_dir_writes_the_genotype_decisions_and_tuning_history(nb201_run, tmp_path, capsys):
    out = tmp_path / "sel"
    assert main(["parse", str(nb201_run), "--method", "perturbation", "--proj-intv", "1", "--out", str(out),
                 "--device", "cpu"]) == 0
    assert {p.name for p in out.iterdir()} >= {"genotype.json", "decisions.json", "decisions.csv",
                                               "tune_history.csv", "selection.json"}
    genotype = Genotype.from_json((out / "genotype.json").read_text())
    decisions = json.loads((out / "decisions.json").read_text())
    assert [d["kind"] for d in decisions] == ["op"] * 6  # NB201: every edge decided, no node step
    assert sorted(d["edge"] for d in decisions) == list(range(6))
    for d in decisions:  # the kept op is the one whose removal gave the lowest accuracy (first on ties)
        accs = [c["acc"] for c in d["candidates"]]
        assert d["op"] == d["candidates"][accs.index(min(accs))]["op"]
    assert sorted(op for op, _, _ in genotype.cell("cell")[0]) == sorted(d["op"] for d in decisions)
    selection = json.loads((out / "selection.json").read_text())
    assert selection["options"]["proj_intv"] == 1 and selection["seconds"] > 0
    assert len((out / "tune_history.csv").read_text().splitlines()) == 1 + 4  # NB201 gaps 0,1,1,1,1,0
    assert genotype.to_string() in capsys.readouterr().out


@pytest.mark.parametrize("make", [lambda p: p / "nothing", lambda p: p,
                                  lambda p: (p / "s").mkdir() or (p / "s" / "search.json").write_text("{}") or p / "s"])
def test_a_folder_that_is_no_search_or_has_no_checkpoint_is_a_one_line_error(make, tmp_path, capsys):
    folder = make(tmp_path)
    assert main(["parse", str(folder), "--method", "perturbation"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(folder) in err


def test_a_trial_of_a_variant_parsing_by_perturbation_runs_the_selection_after_the_search(tmp_path):
    torch.manual_seed(0)
    setting = Setting("fixed", "fixed_alpha", search={"space": "nb201", "epochs": 1, "train_limit": 48,
                                                      "layers": 1, "batch_size": 8}, train=False)
    config = {"setting": setting_dict(setting), "seed": 0, "preset": "smoke", "dataset": "digits"}
    (row,) = run_trial(config, tmp_path)["rows"]
    assert row["status"] == "ok", row.get("error")
    selected = json.loads((tmp_path / "selection" / "selection.json").read_text())
    assert row["genotype"] == Genotype.from_json(selected["genotype"]).to_json()
    assert row["selection_seconds"] == selected["seconds"] and row["search_seconds"] > 0


def test_search_of_a_variant_that_parses_by_selection_runs_the_selection(tmp_path, capsys):
    """`search --variant fixed_alpha` ends with DARTS-PT's selection on its checkpoint, in OUT/selection, and
    prints the selected cell after the stand-in parse."""
    out = tmp_path / "fixed"
    assert main(["search", "--variant", "fixed_alpha", "--space", "nb201", "--preset", "smoke", "--epochs", "1",
                 "--train-limit", "48", "--out", str(out), "--device", "cpu"]) == 0
    selected = Genotype.from_json((out / "selection" / "genotype.json").read_text())
    printed = capsys.readouterr().out
    assert "standing in" in printed and "selected genotype" in printed and selected.to_string() in printed
