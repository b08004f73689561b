"""darts-bench bench (every --what on the fast and the reference path), its errors, the fast search step
against the reference one, and the CPU dry run of benchmarks/perf/gpu_check.sh."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from benchmarks.cli import main
from benchmarks.perf import bench
from benchmarks.perf.reference import PILImageDataset, reference_transform, synthetic_image_set
from benchmarks.perf.timing import RESULT_KEYS, peak_memory_mb, summarize, time_steps
from fairdarts_core.data import Batches

ROOT = Path(__file__).resolve().parents[3]
TINY = ["--batch-size", "4", "--init-channels", "4", "--layers", "3", "--steps", "1", "--warmup", "0"]


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
@pytest.mark.parametrize("what", bench.WHATS)
def test_bench_prints_a_json_last_line(what, reference, capsys):
    argv = ["bench", "--what", what, *TINY, "--json"] + (["--reference"] if reference else [])
    assert main(argv) == 0
    result = _last_json(capsys.readouterr().out)
    assert list(result)[:3] == list(RESULT_KEYS)
    for key in RESULT_KEYS:
        assert isinstance(result[key], float) and result[key] > 0, (key, result[key])
    assert result["what"] == what
    assert result["reference"] is reference
    assert result["batch_size"] == 4 and result["init_channels"] == 4 and result["layers"] == 3
    assert result["memory_format"] == ("nchw" if reference else "channels_last")
    assert result["data"].startswith("DataLoader" if reference else "Batches")
    # images/s follows from the median step.
    assert result["images_per_s"] == pytest.approx(4 / (result["step_ms"] / 1e3), rel=1e-2)


def test_bench_table(capsys):
    assert main(["bench", "--what", "infer", *TINY]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert header.split() == ["what", "path", "step_ms", "images/s", "peak_mem_MB", "device"]
    assert row.split()[:2] == ["infer", "fast"]


def test_bench_cuda_without_gpu_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without a GPU
    assert main(["bench", "--what", "infer", *TINY, "--device", "cuda", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "cuda" in lines[0].lower(), captured.err


@pytest.mark.parametrize("argv", [
    ["--what", "search", "--amp"],
    ["--what", "search", "--compile"],
    ["--what", "train", "--reference", "--amp"],
    ["--what", "infer", "--reference", "--compile"],
    ["--what", "search", "--variant", "random_darts"],
    ["--what", "search", "--variant", "nope"],
    ["--what", "train", "--genotype", "no_such_genotype"],
])
def test_bench_rejects_meaningless_combinations(argv, capsys):
    assert main(["bench", *argv, *TINY, "--json"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_summarize_and_time_steps():
    calls = []
    times = time_steps(lambda: calls.append(1), steps=3, warmup=2, device=torch.device("cpu"))
    assert len(calls) == 5 and len(times) == 3 and all(t >= 0 for t in times)
    result = summarize([0.3, 0.1, 0.2], batch_size=10, peak_mem_mb=12.34, what="x")
    assert list(result)[:4] == ["step_ms", "images_per_s", "peak_mem_mb", "what"]
    assert result["step_ms"] == 200.0 and result["images_per_s"] == 50.0 and result["peak_mem_mb"] == 12.3
    assert result["step_ms_min"] == 100.0
    with pytest.raises(ValueError):
        summarize([], 1, 1.0)
    assert peak_memory_mb(torch.device("cpu")) > 0


def test_reference_data_matches_the_batches_normalization():
    """The reference loader (PIL + ToTensor + Normalize) and Batches (on-device) give the same images unaugmented."""
    data = synthetic_image_set(8, seed=1)
    dataset = PILImageDataset(data, reference_transform(data.mean, data.std, augment=False))
    x_ref = torch.stack([dataset[i][0] for i in range(8)])
    x_fast, y_fast = next(Batches(data, 8, shuffle=False).epoch(0))
    torch.testing.assert_close(x_ref, x_fast, rtol=1e-5, atol=1e-5)
    assert [dataset[i][1] for i in range(8)] == y_fast.tolist()


@pytest.mark.slow
def test_gpu_check_cpu_dry_run(tmp_path):
    """The whole GPU check at tiny sizes on the CPU: every step gives its JSON line, the summary and one
    log archive are all it writes, the ratios and the projection come from the measured numbers."""
    import tarfile

    out = tmp_path / "perf"
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "perf" / "gpu_check.sh"), str(out), "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check_logs.tar.gz", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["dry_run"] is True
    assert summary["failed"] == []
    timed = {f"bench_{what}_{path}" for what in bench.WHATS for path in ("fast", "reference")}
    timed |= {"bench_train_amp", "bench_train_compile", "bench_infer_amp", "bench_infer_compile",
              "search_epoch", "train_epoch"}
    assert set(summary["results"]) == timed | {"sync_check"}
    with tarfile.open(out / "gpu_check_logs.tar.gz") as archive:
        names = {Path(n).name for n in archive.getnames()}
    for name in timed:
        assert f"{name}.json" in names and f"{name}.log" in names
        result = summary["results"][name]
        assert list(result)[:3] == list(RESULT_KEYS), name
        assert all(result[k] > 0 for k in RESULT_KEYS), name
    assert summary["results"]["sync_check"] == {"skipped": "the sync check needs a CUDA device"}
    assert summary["results"]["bench_train_compile"]["compiled"] is True
    assert summary["results"]["search_epoch"]["steps"] == 8  # 32 weight-half images / batch 4
    projection = summary["projection"]
    assert projection["stability_total_gpu_hours"] == pytest.approx(
        projection["stability_searches_gpu_hours"] + projection["stability_trainings_gpu_hours"], abs=0.11)
    assert projection["search_gpu_hours_each"] == pytest.approx(
        50 * summary["results"]["search_epoch"]["epoch_seconds"] / 3600, abs=0.01)
    assert set(summary["ratios"]) >= {"search_reference_over_fast", "train_reference_over_fast",
                                      "infer_reference_over_fast"}


def test_gpu_check_writes_its_summary_when_stopped_early(tmp_path):
    """A budget too small for any step: every step is recorded as skipped, and the summary is written."""
    out = tmp_path / "perf"
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "perf" / "gpu_check.sh"), str(out), "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**__import__("os").environ,
                                                                            "GPU_CHECK_BUDGET_S": "10"})
    assert proc.returncode == 1
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["failed"]) == set(summary["results"]) and len(summary["results"]) == 13
    assert all("skipped" in r["error"] for r in summary["results"].values())
