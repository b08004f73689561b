"""Timing and memory of benchmark steps: medians with device synchronisation, peak memory, results."""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

RESULT_KEYS = ("step_ms", "images_per_s", "peak_mem_mb")  # the first three keys of the JSON line, in order


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], Any], steps: int, warmup: int, device: torch.device) -> list[float]:
    """Seconds of each of `steps` calls of `step`, after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        synchronize(device)
        began = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - began)
    return times


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: max allocated by tensors since the last reset; CPU: this process's peak RSS (process-wide)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def peak_reserved_mb(device: torch.device) -> float | None:
    """CUDA: the peak the caching allocator held (what a packed trial needs of the card, before the CUDA
    context's few hundred MB); None on the CPU."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_reserved(device) / 2**20


def summarize(times: list[float], batch_size: int, peak_mem_mb: float, **extra: Any) -> dict[str, Any]:
    """The result dict: step_ms (median), images_per_s, peak_mem_mb first, then `extra`."""
    if not times:
        raise ValueError("no timed steps")
    median = statistics.median(times)
    result = {
        "step_ms": round(median * 1e3, 3),
        "images_per_s": round(batch_size / median, 2),
        "peak_mem_mb": round(peak_mem_mb, 1),
    }
    result.update(extra)
    result.setdefault("batch_size", batch_size)
    result["step_ms_min"] = round(min(times) * 1e3, 3)
    result["step_ms_mean"] = round(statistics.fmean(times) * 1e3, 3)
    return result


def format_table(result: dict[str, Any]) -> str:
    """A small human table of one result."""
    header = ("what", "path", "step_ms", "images/s", "peak_mem_MB", "device")
    row = (str(result.get("what", "?")), str(result.get("path", "?")), f"{result['step_ms']:.1f}",
           f"{result['images_per_s']:.1f}", f"{result['peak_mem_mb']:.0f}", str(result.get("device_name", "?")))
    widths = [max(len(h), len(r)) for h, r in zip(header, row)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in (header, row)]
    notes = {k: result[k] for k in ("batch_size", "init_channels", "layers", "variant", "genotype", "steps",
                                    "warmup", "data", "memory_format", "amp", "compiled", "compile_error")
             if result.get(k) not in (None, "")}
    lines.append("  " + ", ".join(f"{k}={v}" for k, v in notes.items()))
    return "\n".join(lines)


