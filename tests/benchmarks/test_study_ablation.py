"""The ablation study's own checks (test_study_smoke.py runs what every study must pass): one search per seed
for the default setting's parses, and its table's paired and Welch tests. Tests that read its smoke run are in
its xdist group."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.experiments.ablation import DEFAULT as ABLATION_DEFAULT
from tests.benchmarks.study_runs import study_run, table_of

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray_left_running")]



@pytest.mark.xdist_group("ablation")
def test_ablation_parses_one_search_per_seed_and_says_how_it_compares(tmp_path_factory):
    out = study_run("ablation", tmp_path_factory)
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
