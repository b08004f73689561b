"""The CPU performance figures (`darts-bench perf`, `benchmarks/perf/cpu_perf.sh`): every step of
`darts-bench bench` on the fast path against its plain reference, in interleaved pairs (fast,
reference, fast, reference, ...), one process per run (peak RSS is per process), and the time of
`darts-bench genotypes`. Machines drift by tens of percent within minutes, so each figure is the
median of its pairs' ratios with their range. Writes OUTDIR/cpu.jsonl (every run's JSON line) and
OUTDIR/cpu_summary.json, and prints the table.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

SEARCH = ["--what", "search", "--batch-size", "32", "--init-channels", "16", "--layers", "8", "--steps", "2"]
# (label, bench arguments): the search step of every variant (P-DARTS per stage, from its 5 cells), the
# evaluation network's training step and its inference.
FIGURES = [
    ("search fair_darts", SEARCH + ["--variant", "fair_darts"]),
    ("search darts_v1 (first order)", SEARCH + ["--variant", "darts_v1"]),
    ("search darts_v2 (second order)", SEARCH + ["--variant", "darts_v2", "--steps", "1"]),
    ("search noisy_darts", SEARCH + ["--variant", "noisy_darts"]),
    ("search pc_darts", SEARCH + ["--variant", "pc_darts"]),
    ("search darts_minus", SEARCH + ["--variant", "darts_minus"]),
    *[(f"search p_darts stage {s}", [*SEARCH[:-6], "--layers", "5", "--init-channels", "16", "--steps", "2",
                                      "--variant", "p_darts", "--stage", str(s)]) for s in (0, 1, 2)],
    # NAS-Bench-201: the benchmark's search network (C=16, N=5 cells per stage) at the DARTS figures' batch
    # of 32 (the NB201 paper preset's is 64; 32 keeps the figures comparable and the step near a second).
    ("search darts_v1 @ nb201", ["--what", "search", "--space", "nb201", "--variant", "darts_v1",
                                 "--init-channels", "16", "--layers", "5", "--batch-size", "32", "--steps", "3"]),
    ("search drnas @ nb201", ["--what", "search", "--space", "nb201", "--variant", "drnas",
                              "--init-channels", "16", "--layers", "5", "--batch-size", "32", "--steps", "3"]),
    # The sampling methods and the regularized steps (rdarts_l2 / rdarts_es step as darts_v2 does: a weight
    # decay and a once-an-epoch Hessian): GDAS computes one op per edge; SDARTS-ADV adds a 7-step PGD.
    ("search gdas", SEARCH + ["--variant", "gdas"]),
    ("search gdas @ nb201", ["--what", "search", "--space", "nb201", "--variant", "gdas",
                             "--init-channels", "16", "--layers", "5", "--batch-size", "32", "--steps", "3"]),
    ("search sdarts_rs", SEARCH + ["--variant", "sdarts_rs"]),
    ("search sdarts_adv", SEARCH + ["--variant", "sdarts_adv", "--steps", "1"]),
    ("search beta_darts", SEARCH + ["--variant", "beta_darts"]),
    ("train FairDARTS_a", ["--what", "train", "--genotype", "FairDARTS_a", "--batch-size", "32", "--steps", "3"]),
    ("infer FairDARTS_a", ["--what", "infer", "--genotype", "FairDARTS_a", "--batch-size", "256", "--steps", "3"]),
]


def bench(args: list[str]) -> dict:
    """One `darts-bench bench ... --json` in its own process; its JSON line."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.cli", "bench", *args, "--json"], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def genotypes_seconds(repeats: int = 3) -> list[float]:
    """Wall seconds of `darts-bench genotypes`, process start included."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benchmarks.cli", "genotypes"], capture_output=True, check=True)
        times.append(time.perf_counter() - began)
    return times


def measure(pairs: int, only: set[str] | None, log) -> list[dict]:
    rows = []
    for label, args in FIGURES:
        if only and label not in only:
            continue
        runs = {"fast": [], "reference": []}
        for i in range(pairs):
            for path in ("fast", "reference"):
                result = bench(args + (["--reference"] if path == "reference" else []))
                result.update(label=label, pair=i)
                log.write(json.dumps(result) + "\n")
                log.flush()
                runs[path].append(result)
        ratios = [r["step_ms"] / f["step_ms"] for f, r in zip(runs["fast"], runs["reference"])]
        rows.append({
            "label": label, "command": "darts-bench bench " + " ".join(args), "pairs": pairs,
            "fast_ms": statistics.median(r["step_ms"] for r in runs["fast"]),
            "reference_ms": statistics.median(r["step_ms"] for r in runs["reference"]),
            "speedup_median": statistics.median(ratios), "speedup_min": min(ratios), "speedup_max": max(ratios),
            "fast_peak_mb": max(r["peak_mem_mb"] for r in runs["fast"]),
            "reference_peak_mb": max(r["peak_mem_mb"] for r in runs["reference"]),
        })
        print(table([rows[-1]]).splitlines()[-1], flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'step':34} {'fast ms':>9} {'ref ms':>9} {'speed-up median [range]':>26} {'peak MB fast / ref':>19}"]
    for r in rows:
        lines.append(f"{r['label']:34} {r['fast_ms']:9.0f} {r['reference_ms']:9.0f} "
                     f"{r['speedup_median']:9.2f}x [{r['speedup_min']:.2f}-{r['speedup_max']:.2f}]     "
                     f"{r['fast_peak_mb']:7.0f} / {r['reference_peak_mb']:6.0f}")
    return "\n".join(lines)


LABELS = [label for label, _ in FIGURES]


def _previous(path: Path) -> dict:
    """An earlier summary in the folder (its figures are kept by a run of some of them), or {}."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def run(out: Path, pairs: int = 3, only: list[str] | None = None) -> dict:
    """Measure the figures (all, or those labelled in `only`), write OUTDIR's two files, print the table;
    returns the summary. With `only`, an existing summary keeps its other figures (the measured ones
    replace theirs, in FIGURES order) and the runs are appended to cpu.jsonl. An unknown label is a
    ValueError naming the valid ones."""
    unknown = [label for label in only or [] if label not in LABELS]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; valid: {', '.join(LABELS)}")
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous(out / "cpu_summary.json") if only else {}
    began = time.time()
    with (out / "cpu.jsonl").open("a" if only else "w", encoding="utf-8") as log:
        rows = measure(pairs, set(only) if only else None, log)
    seconds = genotypes_seconds()
    kept = {r["label"]: r for r in previous.get("figures", [])}
    kept.update({r["label"]: r for r in rows})
    rows = [kept[label] for label in LABELS if label in kept]
    summary = {"figures": rows, "genotypes_seconds": {"median": statistics.median(seconds), "runs": seconds},
               "seconds": round(time.time() - began, 1)}
    if previous.get("seconds") is not None:
        summary["seconds"] = round(previous["seconds"] + summary["seconds"], 1)
    (out / "cpu_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table(rows))
    print(f"darts-bench genotypes: {statistics.median(seconds):.2f} s (median of {len(seconds)}, process start "
          f"included)")
    return summary
