"""report: the manifest's account of where a study's time went."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.report import time_use, time_use_line


def _trials(**extra) -> pd.DataFrame:
    # Two trials; the first has two parse rows sharing one training (trained_as), the second failed to train.
    return pd.DataFrame({
        "label": ["A", "A", "A"], "seed": [0, 0, 1], "trained_as": [None, "sparse", None],
        "search_seconds": [60.0, 60.0, 50.0], "train_seconds": [30.0, 30.0, None],
        "trial_seconds": [100.0, 100.0, 60.0], **extra})


def test_time_use_counts_each_search_and_training_once():
    use = time_use(_trials(), wall_seconds=100.0, slots=2)
    assert use["trial_seconds"] == 160.0 and use["loop_seconds"] == 140.0  # 60 + 30 + 50
    assert use["outside_loops_fraction"] == pytest.approx(0.125)
    assert use["slots"] == 2 and use["slots_busy_fraction"] == pytest.approx(0.8)


def test_time_use_without_slots_or_trial_times():
    assert "slots_busy_fraction" not in time_use(_trials(), wall_seconds=100.0, slots=None)
    assert time_use(_trials().drop(columns="trial_seconds"), 100.0, 2) == {}
    assert time_use(pd.DataFrame(), 100.0, 2) == {}


def test_time_use_line_says_what_was_measured():
    line = time_use_line(100.0, time_use(_trials(), wall_seconds=100.0, slots=2))
    assert line == ("wall 100 s; trials 160 s, 12% of it outside the search and training loops; "
                    "2 trial slots 80% busy")
    assert time_use_line(5.0, {}) == "wall 5 s"


def test_markdown_escapes_a_pipe_in_a_label():
    """A row label like "setting | parse" stays one cell: every line has as many cells as the header."""
    from benchmarks.report import markdown

    text = markdown(pd.DataFrame([{"Setting": "sigmoid, L2, w=10 | sparse 0.85", "Accuracy %": "91.2", "n": 2}]))
    header, rule, row = text.splitlines()
    assert row == "| sigmoid, L2, w=10 \\| sparse 0.85 | 91.2 | 2 |"
    unescaped = [line.replace("\\|", "") for line in (header, rule, row)]
    assert len({line.count("|") for line in unescaped}) == 1
