"""darts-bench perf (benchmarks/perf/cpu_perf.py): the interleaving of fast and reference runs, the
medians and ranges it reports, its files, and its errors. The bench runs are replaced by a fake: the
real ones take minutes and their speed is what the command measures, not what a test can assert."""

from __future__ import annotations

import json
import statistics

import pytest

from benchmarks.cli import main
from benchmarks.perf import cpu_perf


@pytest.fixture()
def fake_bench(monkeypatch):
    """Record every bench call; fast runs take 100, 110, 90 ms, reference runs 400, 300, 500 ms."""
    calls = []
    times = {"fast": iter([100.0, 110.0, 90.0]), "reference": iter([400.0, 300.0, 500.0])}

    def bench(args):
        path = "reference" if "--reference" in args else "fast"
        calls.append(path)
        return {"step_ms": next(times[path]), "peak_mem_mb": 1000.0 if path == "fast" else 1500.0}

    monkeypatch.setattr(cpu_perf, "bench", bench)
    monkeypatch.setattr(cpu_perf, "genotypes_seconds", lambda: [0.5, 0.7, 0.6])
    return calls


def test_perf_alternates_the_paths_and_reports_the_median_ratio_and_its_range(fake_bench, tmp_path, capsys):
    label = "infer FairDARTS_a"
    assert main(["perf", str(tmp_path), "--pairs", "3", "--only", label]) == 0
    assert fake_bench == ["fast", "reference"] * 3
    summary = json.loads((tmp_path / "cpu_summary.json").read_text())
    (row,) = summary["figures"]
    ratios = [400 / 100, 300 / 110, 500 / 90]
    assert row["label"] == label and row["pairs"] == 3
    assert row["fast_ms"] == 100.0 and row["reference_ms"] == 400.0
    assert row["speedup_median"] == pytest.approx(statistics.median(ratios))
    assert (row["speedup_min"], row["speedup_max"]) == pytest.approx((min(ratios), max(ratios)))
    assert (row["fast_peak_mb"], row["reference_peak_mb"]) == (1000.0, 1500.0)
    assert summary["genotypes_seconds"]["median"] == 0.6
    assert len((tmp_path / "cpu.jsonl").read_text().splitlines()) == 6
    out = capsys.readouterr().out
    assert label in out and "4.00x [2.73-5.56]" in out


def test_perf_refuses_an_unknown_figure_in_one_line(fake_bench, tmp_path, capsys):
    assert main(["perf", str(tmp_path / "out"), "--only", "search nothing"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown figure 'search nothing'" in err
    assert fake_bench == [] and not (tmp_path / "out").exists()


def test_every_figure_is_a_bench_command_the_cli_accepts():
    from benchmarks.cli import build_parser

    parser = build_parser(only="bench")
    for label, args in cpu_perf.FIGURES:
        parsed = parser.parse_args(["bench", *args, "--json"])
        assert parsed.what == label.split()[0], label


def test_the_nb201_search_step_is_a_figure_at_the_benchmark_size():
    from benchmarks.cli import build_parser

    args = dict(cpu_perf.FIGURES)["search darts_v1 @ nb201"]
    parsed = build_parser(only="bench").parse_args(["bench", *args, "--json"])
    assert (parsed.space, parsed.variant, parsed.init_channels, parsed.layers) == ("nb201", "darts_v1", 16, 5)
    assert parsed.batch_size == 32 and not parsed.reference


def test_perf_of_some_figures_keeps_the_others_of_an_earlier_summary(fake_bench, tmp_path):
    row = {"command": "x", "pairs": 3, "fast_ms": 1.0, "reference_ms": 2.0, "speedup_median": 2.0, "speedup_min": 2.0,
           "speedup_max": 2.0, "fast_peak_mb": 1.0, "reference_peak_mb": 1.0}
    earlier = {"figures": [{"label": "search fair_darts", **row}, {"label": "infer FairDARTS_a", **row}],
               "genotypes_seconds": {"median": 0.4, "runs": [0.4]}, "seconds": 100.0}
    (tmp_path / "cpu_summary.json").write_text(json.dumps(earlier))
    (tmp_path / "cpu.jsonl").write_text('{"earlier": 1}\n')
    assert main(["perf", str(tmp_path), "--pairs", "3", "--only", "infer FairDARTS_a"]) == 0
    summary = json.loads((tmp_path / "cpu_summary.json").read_text())
    assert [r["label"] for r in summary["figures"]] == ["search fair_darts", "infer FairDARTS_a"]
    assert summary["figures"][0] == earlier["figures"][0] and summary["figures"][1]["fast_ms"] == 100.0
    lines = (tmp_path / "cpu.jsonl").read_text().splitlines()
    assert lines[0] == '{"earlier": 1}' and len(lines) == 1 + 6  # appended: 3 pairs of runs
