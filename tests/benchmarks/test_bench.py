"""darts-bench bench (every --what on the fast and the reference path), its errors, the fast search step
against the reference one, and the CPU dry run of benchmarks/gpu_check.sh."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from benchmarks import bench
from benchmarks.cli import main
from fairdarts_core.data import Augment, Batches
from fairdarts_core.search import build_supernet, search_config
from variants import make_variant

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--batch-size", "4", "--init-channels", "4", "--layers", "3", "--steps", "1", "--warmup", "0"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Two OpenMP threads on a busy 2-core machine spin at every op's barrier (tens of times slower):
    these tests check results, not speed."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "reference"])
@pytest.mark.parametrize("what", bench.WHATS)
def test_bench_prints_a_json_last_line(what, reference, capsys):
    argv = ["bench", "--what", what, *TINY, "--json"] + (["--reference"] if reference else [])
    assert main(argv) == 0
    result = _last_json(capsys.readouterr().out)
    assert list(result)[:3] == list(bench.RESULT_KEYS)
    for key in bench.RESULT_KEYS:
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


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when no CUDA GPU is present")
def test_bench_cuda_without_gpu_is_one_line_exit_2(capsys):
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
    times = bench.time_steps(lambda: calls.append(1), steps=3, warmup=2, device=torch.device("cpu"))
    assert len(calls) == 5 and len(times) == 3 and all(t >= 0 for t in times)
    result = bench.summarize([0.3, 0.1, 0.2], batch_size=10, peak_mem_mb=12.34, what="x")
    assert list(result)[:4] == ["step_ms", "images_per_s", "peak_mem_mb", "what"]
    assert result["step_ms"] == 200.0 and result["images_per_s"] == 50.0 and result["peak_mem_mb"] == 12.3
    assert result["step_ms_min"] == 100.0
    with pytest.raises(ValueError):
        bench.summarize([], 1, 1.0)
    assert bench.peak_memory_mb(torch.device("cpu")) > 0


def test_reference_data_matches_the_batches_normalization():
    """The reference loader (PIL + ToTensor + Normalize) and Batches (on-device) give the same images unaugmented."""
    data = bench.synthetic_image_set(8, seed=1)
    dataset = bench.PILImageDataset(data, bench.reference_transform(data.mean, data.std, augment=False))
    x_ref = torch.stack([dataset[i][0] for i in range(8)])
    x_fast, y_fast = next(Batches(data, 8, shuffle=False).epoch(0))
    torch.testing.assert_close(x_ref, x_fast, rtol=1e-5, atol=1e-5)
    assert [dataset[i][1] for i in range(8)] == y_fast.tolist()


def _one_search_step(variant, fast: bool, batches, dtype: torch.dtype) -> dict:
    """search_step on a fresh seed-0 supernet of the fast or the reference path; what it computed."""
    (x_t, y_t), (x_v, y_v) = batches
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        config = search_config("smoke", variant, {"fast": fast, "channels_last": fast, "seed": 0})
        model = build_supernet(variant, config, 10, torch.device("cpu"))
    finally:
        torch.set_default_dtype(saved)
    w_optimizer, a_optimizer = bench.search_optimizers(model, config)
    before = [a.detach().clone() for a in model.arch_parameters()]
    seen = {}
    a_optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: seen.update(arch_grads=[a.grad.clone() for a in model.arch_parameters()]))
    fmt = torch.channels_last if fast else torch.contiguous_format
    val_loss, train_loss = bench.search_step(
        model, variant, w_optimizer, a_optimizer, (x_t.to(dtype).contiguous(memory_format=fmt), y_t),
        (x_v.to(dtype).contiguous(memory_format=fmt), y_v), config.grad_clip, full_backward=not fast)
    return {
        "moved": max((a.detach() - b).abs().max().item() for a, b in zip(model.arch_parameters(), before)),
        "losses": [torch.stack([val_loss, train_loss])],
        "arch_grads": seen["arch_grads"],
        "alphas": [a.detach().clone() for a in model.arch_parameters()],
        "weights": [p.detach().clone() for p in model.weight_parameters()],
        "weight_grads": [p.grad.clone() for p in model.weight_parameters()],
        "buffers": [b.clone() for name, b in model.named_buffers() if "running" in name],
    }


@pytest.mark.parametrize("variant_name", ["fair_darts", "darts"])
def test_fast_search_step_matches_reference(variant_name):
    """One search_step on the same batches: the fast path (shared-ReLU mixed op, channels_last, gradients of
    only what each step updates) and the reference (plain sum, NCHW, loss.backward() over everything) give the
    same losses, arch gradients, alphas, weights, weight gradients and BatchNorm statistics.

    In float64, to 1e-6 relative: the computations are the same. In float32 the NCHW and channels_last
    convolutions round differently and BatchNorm's backward with batch statistics (batch 8) amplifies that
    to ~5e-3 of some weight gradients and, through the softmax's cancellation, ~5e-2 of DARTS' arch
    gradients (float64 agrees to 1e-14); so float32 is held to 1e-4 only on the losses."""
    variant = make_variant(variant_name)
    data = bench.synthetic_image_set(16, seed=2)
    batches = list(Batches(data, 8, augment=Augment(), seed=5).epoch(0))
    fast = _one_search_step(variant, True, batches, torch.float64)
    ref = _one_search_step(variant, False, batches, torch.float64)
    for key in ("losses", "arch_grads", "alphas", "weights", "weight_grads", "buffers"):
        assert len(fast[key]) == len(ref[key]) > 0
        for a, b in zip(fast[key], ref[key]):
            assert a.dtype == torch.float64
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10, msg=lambda m: f"{key}: {m}")
    # The step moved the alphas (a test that cannot fail is a defect).
    assert fast["moved"] > 1e-3 and ref["moved"] > 1e-3

    fast32 = _one_search_step(variant, True, batches, torch.float32)
    ref32 = _one_search_step(variant, False, batches, torch.float32)
    assert fast32["losses"][0].dtype == torch.float32
    torch.testing.assert_close(fast32["losses"][0], ref32["losses"][0], rtol=1e-4, atol=0.0)


@pytest.mark.slow
def test_gpu_check_cpu_dry_run(tmp_path):
    out = tmp_path / "perf"
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(out), "cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["dry_run"] is True
    assert summary["failed"] == []
    expected = {f"bench_{what}_{path}" for what in bench.WHATS for path in ("fast", "reference")}
    expected |= {"bench_train_amp", "bench_train_compile", "bench_infer_amp", "bench_infer_compile",
                 "search_epoch", "train_epoch"}
    assert set(summary["results"]) == expected
    for name in expected:
        result = json.loads((out / f"{name}.json").read_text())
        assert result == summary["results"][name]
        assert list(result)[:3] == list(bench.RESULT_KEYS), name
        assert all(result[k] > 0 for k in bench.RESULT_KEYS), name
    assert summary["results"]["bench_train_compile"]["compiled"] is True
    assert summary["results"]["search_epoch"]["steps"] == 32  # 128 weight-half images / batch 4
    projection = summary["projection"]
    assert projection["stability_total_gpu_hours"] == pytest.approx(
        projection["stability_searches_gpu_hours"] + projection["stability_trainings_gpu_hours"], abs=0.11)
    assert projection["search_gpu_hours_each"] == pytest.approx(
        50 * summary["results"]["search_epoch"]["epoch_seconds"] / 3600, abs=0.01)
    assert set(summary["ratios"]) >= {"search_reference_over_fast", "train_reference_over_fast",
                                      "infer_reference_over_fast"}
