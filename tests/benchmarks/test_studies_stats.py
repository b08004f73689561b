"""The numbers the study tables print beside their means, without running a study: the noise floor and the
difference a table's n can detect, the gain over a random baseline, the chance rates of a random cell, the noise
study's table and calibration file, the bars of failed rows."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.experiments import chance, noise
from benchmarks.experiments.stats import (
    bar_summary,
    improvement,
    min_detectable_difference,
    noise_caption,
    noise_floor,
    random_baseline,
    random_seeds,
    training_protocol,
)

PROTOCOL = {"dataset": "digits-test", "train_channels": 8, "train_layers": 5, "train_epochs": 10,
            "train_batch_size": 64, "train_lr": 0.05, "train_drop_path": 0.1}


def test_min_detectable_difference_matches_the_power_tables():
    # Cohen's d a two-sided two-sample t-test (alpha 0.05, power 0.8) detects: 0.909 at n=20, 1.796 at n=6
    assert min_detectable_difference(1.0, 20) == pytest.approx(0.9091, abs=1e-3)
    assert min_detectable_difference(1.0, 6) == pytest.approx(1.7955, abs=1e-3)
    assert min_detectable_difference(0.5, 3) == pytest.approx(0.5 * min_detectable_difference(1.0, 3))
    assert math.isnan(min_detectable_difference(1.0, 1)) and math.isnan(min_detectable_difference(0.0, 5))


def test_noise_floor_pools_the_cells_seed_variances():
    calibration = pd.DataFrame({"cell": ["A"] * 3 + ["B"] * 4 + ["C"], "protocol": ["p"] * 7 + ["p"],
                                "seed": [0, 1, 2, 0, 1, 2, 3, 0], "accuracy": [90, 91, 92, 95, 95, 96, 96, 50]})
    std, cells, seeds = noise_floor(calibration, "p")
    # C has one seed (no variance); pooled: (2 * 1 + 3 * var(95, 95, 96, 96)) / (2 + 3)
    assert std == pytest.approx(math.sqrt((2 * 1.0 + 3 * np.var([95, 95, 96, 96], ddof=1)) / 5))
    assert (cells, seeds) == (2, 3)
    assert noise_floor(calibration, "other") is None


def test_noise_caption_gives_the_rows_n_and_a_random_baselines_larger_n():
    trials = pd.DataFrame([{"row": r, "seed": s, "status": "ok", "test_acc": 90.0 + s, **PROTOCOL}
                           for r, seeds in (("a", 3), ("b", 3), ("random_uniform", 6)) for s in range(seeds)])
    calibration = pd.DataFrame({"cell": ["A"] * 3, "protocol": [training_protocol(PROTOCOL)] * 3, "seed": [0, 1, 2],
                                "accuracy": [90.0, 91.0, 92.0]})
    text = noise_caption(trials, calibration)
    assert text.endswith(f"at n=3 a two-sample t-test (alpha 0.05, power 0.8) detects differences of "
                         f"{min_detectable_difference(1.0, 3):.2f} points or more "
                         f"(at n=6: {min_detectable_difference(1.0, 6):.2f})")
    fewer = trials[~((trials["row"] == "b") & (trials["seed"] == 2))]  # a failed seed: the table's n says so
    assert noise_caption(fewer, calibration).endswith(f"{min_detectable_difference(1.0, 3):.2f} points or more "
                                                      f"(at n=6: {min_detectable_difference(1.0, 6):.2f})")


@pytest.mark.parametrize(("preset", "seeds", "expected"), [
    ("quick", (0, 1, 2), (0, 1, 2, 3, 4, 5)), ("quick", (0, 1), (0, 1, 2, 3, 4, 5)),
    ("quick", tuple(range(8)), ()), ("smoke", (0,), ()), ("paper", (), (0, 1, 2, 3, 4, 5))])
def test_random_seeds_extend_the_studys_to_the_presets_samples(preset, seeds, expected):
    assert random_seeds(preset, seeds) == expected


def test_noise_caption_per_protocol_and_unmeasured():
    trials = pd.DataFrame([{"row": r, "seed": s, "status": "ok", "test_acc": 90.0 + s, **PROTOCOL}
                           for r in ("a", "b") for s in range(4)])
    calibration = pd.DataFrame({"cell": ["A"] * 3, "protocol": [training_protocol(PROTOCOL)] * 3, "seed": [0, 1, 2],
                                "accuracy": [90.0, 91.0, 92.0]})
    text = noise_caption(trials, calibration)
    assert text.startswith("noise floor of this protocol (digits-test, C=8, 5 cells, 10 epochs, batch 64, lr 0.05, "
                           "drop path 0.1): training-seed std 1.00 points (calibration: 1 cells x 3+ seeds); at n=4")
    assert f"differences of {min_detectable_difference(1.0, 4):.2f} points or more" in text
    assert noise_caption(trials, calibration.iloc[:0]) == \
        f"noise floor not measured for this protocol ({training_protocol(PROTOCOL)})"
    assert noise_caption(trials.assign(test_acc=np.nan), calibration) == ""  # nothing trained


def test_improvement_is_welchs_interval():
    from scipy import stats

    a, b = pd.Series([91.0, 92.5, 91.7, 93.0]), pd.Series([89.0, 90.2, 88.1])
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert improvement(a, b) == f"{a.mean() - b.mean():+.2f} [{interval.low:+.2f}, {interval.high:+.2f}]"
    assert improvement(a, b.iloc[:1]) == "-"


def test_random_baseline_prefers_the_uniform_sample():
    rows = pd.DataFrame({"row": ["darts", "random_darts", "random_uniform"]})
    assert random_baseline(rows) == "random_uniform"
    assert random_baseline(rows.iloc[:2]) == "random_darts" and random_baseline(rows.iloc[:1]) is None


def test_bar_summary_keeps_failed_rows():
    trials = pd.DataFrame({"row": ["a", "a", "b", "b", "c"], "status": ["ok", "ok", "ok", "error", "error"],
                           "test_acc": [90.0, 92.0, 88.0, np.nan, np.nan]})
    bars = bar_summary(trials, "test_acc").set_index("row")
    assert list(bars.index) == ["a", "b", "c"]
    assert bars.loc["a", "mean"] == 91.0 and bars.loc["a", "std"] == pytest.approx(math.sqrt(2))
    assert (bars.loc["b", "n"], bars.loc["b", "failed"]) == (1, 1) and math.isnan(bars.loc["b", "std"])
    assert (bars.loc["c", "n"], bars.loc["c", "failed"]) == (0, 1) and math.isnan(bars.loc["c", "mean"])


# ----- chance rates of a uniformly random cell -----------------------------------------------------
def test_nb201_chance_rates_count_every_cell():
    from fairdarts_core.indicators import PARAMETER_FREE_OPS

    ops = chance.kept_ops("nb201")
    free = [sum(op in PARAMETER_FREE_OPS for op in cell) for cell in itertools.product(ops, repeat=6)]
    assert chance.chance_dominated("nb201") == pytest.approx(np.mean([f >= 4 for f in free])) == pytest.approx(0.54432)
    assert chance.param_free_share("nb201") == pytest.approx(np.mean(free) / 6) == pytest.approx(0.6)
    assert chance.expected_skips("nb201") == pytest.approx(1.2)


def test_darts_style_chance_rates_match_random_parses():
    """Cells parsed from random weights (the random_uniform sampler) show the computed rates."""
    from fairdarts_core.indicators import param_free_fraction
    from fairdarts_core.spaces import get_space
    from variants import make_method

    assert chance.expected_skips("darts") == pytest.approx(8 / 7)
    assert chance.chance_dominated("s3") == pytest.approx(sum(math.comb(16, k) for k in range(11, 17)) / 2**16)
    cells = make_method("random_uniform", count=400).sample(0, get_space("s3"))
    assert np.mean([g.skip_count("normal") for g in cells]) == pytest.approx(chance.expected_skips("s3"), abs=0.2)
    assert np.mean([param_free_fraction(g) for g in cells]) == pytest.approx(chance.param_free_share("s3"), abs=0.02)


# ----- the noise study -----------------------------------------------------------------------------
def _noise_trials() -> pd.DataFrame:
    rows = [{"row": f"{cell}, 3 epochs", "label": f"{cell}, 3 epochs", "seed": s, "status": "ok",
             "test_acc": acc, **PROTOCOL} for cell, accs in (("DARTS_V2", (90.1, 91.3, 90.7)),
                                                             ("FairDARTS_a", (92.0, 92.4, 91.6))) for s, acc in enumerate(accs)]
    rows.append({"row": "FairDARTS_a, 3 epochs", "label": "FairDARTS_a, 3 epochs", "seed": 3, "status": "error",
                 "test_acc": np.nan})
    return pd.DataFrame(rows)


def test_noise_table_gives_the_seed_std_and_the_binomial_error():
    table = noise.table(_noise_trials()).set_index("Cell")
    assert table.loc["DARTS_V2", "Std over seeds"] == "0.60" and table.loc["FairDARTS_a", "Std over seeds"] == "0.40"
    p = np.mean([90.1, 91.3, 90.7]) / 100
    assert table.loc["DARTS_V2", "Binomial SE"] == f"{100 * math.sqrt(p * (1 - p) / 1000):.2f}"
    assert table.loc["DARTS_V2", "Test images"] == "1000" and table.loc["FairDARTS_a", "n"] == "3 (1 failed)"


def test_noise_calibration_rows_and_test_set_size():
    frame = noise.calibration(_noise_trials())
    assert list(frame.columns) == ["cell", "protocol", "seed", "accuracy"] and len(frame) == 6
    assert set(frame["cell"]) == {"DARTS_V2", "FairDARTS_a"} and set(frame["protocol"]) == {training_protocol(PROTOCOL)}
    assert noise.test_set_size("folder-test", pd.Series([91.23, 90.01])) == (10000, True)
    assert noise.test_set_size("digits-test", pd.Series([91.2])) == (1000, False)


def test_noise_study_trains_every_cell_under_every_protocol():
    from benchmarks.experiments import build_study
    from fairdarts_core.sizes import PRESETS

    experiment = build_study(noise, PRESETS["quick"])
    configs = experiment.trial_configs()
    assert len(configs) == len(noise.CELLS) * 2 * noise.SEEDS["quick"] >= 2 * 2 * 6
    epochs = {c["setting"]["label"]: c["train_overrides"].get("epochs") for c in configs}
    assert epochs == {"DARTS_V2, 3 epochs": None, "FairDARTS_a, 3 epochs": None, "DARTS_V2, 10 epochs": 10,
                      "FairDARTS_a, 10 epochs": 10}


def test_noise_study_on_another_image_set_calibrates_the_cifar_candidates():
    """On an image set the candidates are 10 epochs on 5,000 and 10,000 images; the 10,000-image one is the quick
    preset's own training there, the one the other studies take."""
    from benchmarks.experiments import build_study
    from fairdarts_core.sizes import sizes_for

    sizes = sizes_for("quick", "folder")
    configs = build_study(noise, sizes, 6, dataset="folder").trial_configs()
    trainings = {c["setting"]["label"]: sizes.train_config("darts", c["train_overrides"]) for c in configs}
    assert {label: (t.epochs, t.train_limit) for label, t in trainings.items()} == {
        f"{cell}, {n}k images, 10 epochs": (10, n * 1000) for cell in noise.CELLS for n in (5, 10)}
    assert trainings["DARTS_V2, 10k images, 10 epochs"] == sizes.train_config("darts")
    assert len(configs) == 4 * 6


def test_training_protocol_names_a_partial_training_set():
    assert training_protocol({**PROTOCOL, "train_limit": 5000}).startswith("digits-test, 5000 training images, C=8")
    assert training_protocol({**PROTOCOL, "train_limit": 0}) == training_protocol(PROTOCOL)
    assert training_protocol({**PROTOCOL, "train_limit": float("nan")}) == training_protocol(PROTOCOL)
