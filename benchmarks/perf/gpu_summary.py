"""gpu_check.sh's summary: every step's JSON line, the device, fast / reference ratios, failures, and the
projection of the paper preset's 7-seed stability study onto this device.

    python -m benchmarks.perf.gpu_summary WORK OUT DEVICE DRY_RUN SECONDS BUDGET_S"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

STEPS = ("bench_search_fast", "bench_search_reference", "bench_train_fast", "bench_train_reference",
         "bench_infer_fast", "bench_infer_reference", "bench_train_compile", "bench_infer_compile", "bench_train_amp",
         "bench_infer_amp", "sync_check", "search_epoch", "train_epoch")


def summary(work: Path, device: str, dry_run: bool, seconds: int, budget: int) -> dict:
    results, failed = {}, []
    for name in STEPS:
        path = work / f"{name}.json"
        if not path.is_file():
            results[name], _ = {"error": "not run (the check stopped before it)"}, failed.append(name)
            continue
        try:
            data = json.loads(path.read_text().strip().splitlines()[-1])
        except (ValueError, IndexError) as err:
            data = {"error": f"not a JSON line: {err}"}
        results[name] = data
        if "error" in data or data.get("compile_error") or data.get("errors"):
            failed.append(name)
    ratios = {}
    for what in ("search", "train", "infer"):
        fast, ref = results.get(f"bench_{what}_fast", {}), results.get(f"bench_{what}_reference", {})
        if fast.get("step_ms") and ref.get("step_ms"):
            ratios[f"{what}_reference_over_fast"] = round(ref["step_ms"] / fast["step_ms"], 3)
        for extra in ("amp", "compile"):
            other = results.get(f"bench_{what}_{extra}", {})
            if fast.get("step_ms") and other.get("step_ms"):
                ratios[f"{what}_fast_over_{extra}"] = round(fast["step_ms"] / other["step_ms"], 3)
    return {"device": device, "gpu_name": _gpu_name(device), "cpu": platform.processor() or platform.machine(),
            "dry_run": dry_run, "torch": _torch_version(), "seconds": seconds, "budget_s": budget, "ratios": ratios,
            "projection": projection(results), "failed": failed, "results": results}


def projection(results: dict) -> dict:
    """The paper preset's 7-seed stability study on this device from the measured epochs: 7 searches of 50
    epochs and 7 trainings of 600 (one trial per GPU at a time), against the published 0.25 GPU-days (6
    GPU-hours) per FairDARTS search. Meaningless for the dry run's tiny sizes."""
    out = {}
    search, train = results.get("search_epoch", {}), results.get("train_epoch", {})
    if search.get("epoch_seconds"):
        per_search = 50 * search["epoch_seconds"] / 3600
        out.update(search_gpu_hours_each=round(per_search, 2), search_vs_published_6h=round(per_search / 6.0, 3),
                   stability_searches_gpu_hours=round(7 * per_search, 1))
    if train.get("epoch_seconds"):
        per_train = 600 * train["epoch_seconds"] / 3600
        out.update(train_gpu_hours_each=round(per_train, 1), stability_trainings_gpu_hours=round(7 * per_train, 1))
    if len(out) == 5:
        out["stability_total_gpu_hours"] = round(out["stability_searches_gpu_hours"]
                                                 + out["stability_trainings_gpu_hours"], 1)
    return out


def _torch_version() -> str | None:
    try:
        import torch

        return torch.__version__
    except ImportError:
        return None


def _gpu_name(device: str) -> str | None:
    if device == "cpu":
        return None
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - a broken CUDA setup is reported, not fatal here
        pass
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=30).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return None


if __name__ == "__main__":
    work, out, device, dry, seconds, budget = sys.argv[1:7]
    data = summary(Path(work), device, dry == "1", int(seconds), int(budget))
    (Path(out) / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({k: data[k] for k in ("device", "gpu_name", "seconds", "ratios", "projection", "failed")}))
