"""R-DARTS: L2 (the weight decay the search runs with) and ES (the official stop rule, and a search it ends).

tests/fixtures/rdarts_es_official.json holds the decisions of the official `EVLocalAvg` (automl/RobustDARTS
src/utils.py) on given eigenvalue sequences, driven as src/search/train_search.py drives it, recorded outside the
project by tests/fixtures/rdarts_es_official_record.py (its docstring says how).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fairdarts_core.regularizers.rdarts import RDARTSEarlyStop, es_stop_epoch, local_averages
from fairdarts_core.search import search
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import SearchRun
from variants import make_variant

OFFICIAL = json.loads((Path(__file__).parents[2] / "fixtures" / "rdarts_es_official.json").read_text())
TINY = SearchConfig(epochs=3, batch_size=8, init_channels=4, layers=3, gap_images=16, arch_learning_rate=3e-2)


@pytest.mark.parametrize("name", list(OFFICIAL["sequences"]))
def test_the_stop_rule_decides_as_the_official_tracker(name):
    seq, evaluated, every = OFFICIAL["sequences"][name], OFFICIAL["evaluated"], OFFICIAL["every"]
    history = []
    config = SearchConfig(epochs=OFFICIAL["epochs"], hessian_every=every)
    stopped = None
    for epoch in range(OFFICIAL["epochs"]):
        ev = seq["eigenvalues"][evaluated.index(epoch)] if epoch in evaluated else math.nan
        history.append({"epoch": epoch, "hessian_eig": ev})
        stop = RDARTSEarlyStop().stop(history, config)
        if stop is not None:
            stopped = epoch
            break
    assert (stopped, stop) == (seq["stopped_at"], seq["stop_epoch"])
    if stopped is not None:
        done = seq["eigenvalues"][:evaluated.index(stopped) + 1]
        assert local_averages(done, 5) == pytest.approx(seq["local_averages"], abs=1e-12)
        assert seq["stop_genotype"] == f"genotype of epoch {stop}"


def test_the_rule_reads_the_epochs_the_eigenvalue_was_computed_at():
    """The harness computes it after epochs 1, 3, 5, ... (hessian_every 2), the official script after 0, 2, 4, ...:
    the same values give the same decision one epoch later, naming an architecture one epoch later."""
    values = [0.1] * 8 + [0.5] * 10
    decisions = []
    for offset in (0, 1):
        epochs = [2 * k + offset for k in range(len(values))]
        stops = [es_stop_epoch(epochs[:n], values[:n], 2) for n in range(1, len(values) + 1)]
        first = next(i for i, s in enumerate(stops) if s is not None)
        decisions.append((epochs[first], stops[first]))
    assert decisions == [(22, 10), (23, 11)]


def test_l2_sets_the_weight_decay_and_es_turns_the_eigenvalue_on():
    run = SearchRun(make_variant("rdarts_l2"), TINY)
    assert run.config.weight_decay == 81e-4
    run.start_stage(10)
    assert run.w_optimizer.param_groups[0]["weight_decay"] == 81e-4
    assert SearchRun(make_variant("rdarts_es"), SearchConfig()).config.hessian_every == 2
    assert SearchRun(make_variant("rdarts_es"), SearchConfig(hessian_every=3)).config.hessian_every == 3


def test_a_stopped_search_returns_the_stop_epochs_architecture_and_stays_stopped(search_set, tmp_path, monkeypatch):
    from benchmarks.pipeline import read_search_result, run_search

    values = iter([0.1, 1.0, 1.0])  # window 1, delta 1: 1.0 / 0.1 > 1.3 after epoch 1 -> stop, epoch 0's architecture
    monkeypatch.setattr(SearchRun, "hessian_eigenvalue", lambda self, xy, iterations=20: next(values))
    variant = make_variant("darts_v1", regularizers=("rdarts_es",), regularizer_options={
        "es_window": 1, "es_delta": 1, "es_start_epoch": 0})
    config = SearchConfig(**{**TINY.__dict__, "hessian_every": 1})
    result = run_search(variant, search_set, config, tmp_path, figures=False)
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert len(history) == 3  # the header and epochs 0, 1
    records = list(search(variant, search_set, config, out_dir=tmp_path, resume=True))
    assert [r["epoch"] for r in records] == [0, 1] and records[-1]["stop_epoch"] == 0
    assert result.genotype.to_json() == records[0]["genotype"] == records[-1]["stop_genotype"]
    assert result.last["stop_epoch"] == 0 and result.final_weights["normal"] == records[0]["weights"]["normal"]
    assert read_search_result(tmp_path).genotype == result.genotype
