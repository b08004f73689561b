#!/usr/bin/env bash
# Performance check for a lent GPU machine, within 8 minutes (GPU_CHECK_BUDGET_S, default 450 s).
#
#   bash benchmarks/gpu_check.sh [OUTDIR [DEVICE]]     OUTDIR default results/perf, DEVICE default cuda
#   bash benchmarks/gpu_check.sh /tmp/perf cpu         dry run: every step at tiny sizes (batch 4, C=4,
#                                                      3 cells, 1 step, 256 synthetic images), for tests
#
# Measures, one process each (so CPU peak RSS and CUDA state are per measurement):
#   darts-bench bench  search | train | infer, fast path and --reference; train and infer with --amp
#                      and with --compile
#   search_epoch       one FairDARTS search epoch (paper preset: batch 128, C=16, 8 cells) on a
#                      synthetic CIFAR-10-sized set (50,000 random 3x32x32 uint8 images: speed only)
#   train_epoch        one training epoch of FairDARTS_a (C=36, 20 cells, batch 96) on the same
#                      set, plus the test pass over 10,000 synthetic images
# Each result is OUTDIR/NAME.json (its command's last stdout line; a failure or a timeout writes
# {"error": ...} instead; full output in OUTDIR/logs/NAME.log), and OUTDIR/summary.json gathers
# them with the device name, fast / reference ratios and the list of failures.
# Every step has a time limit, clipped to what is left of the budget; steps that no longer fit are
# recorded as skipped. Exit code 0 when every step produced a result, 1 otherwise.
set -u

OUT="${1:-results/perf}"
DEVICE="${2:-cuda}"
BUDGET_S="${GPU_CHECK_BUDGET_S:-450}"
PY="${PYTHON:-python}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$OUT/logs" || exit 1
OUT="$(cd "$OUT" && pwd)"
cd "$ROOT" || exit 1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout first, whatever is installed
export PYTHONUNBUFFERED=1

# darts-bench when installed and working, else the module.
if command -v darts-bench >/dev/null 2>&1 && darts-bench bench --help >/dev/null 2>&1; then
    BENCH=(darts-bench bench)
else
    BENCH=("$PY" -m benchmarks.cli bench)
fi

if [ "$DEVICE" = "cpu" ]; then
    DRY_RUN=1
    SEARCH_SIZE=(--batch-size 4 --init-channels 4 --layers 3)
    TRAIN_SIZE=(--batch-size 4 --init-channels 4 --layers 3)
    INFER_SIZE=(--batch-size 4 --init-channels 4 --layers 3)
    STEPS=(--steps 1 --warmup 0)
    # epoch runs: images, test images, batch, C, cells (0: the preset's)
    EPOCH_SIZE=(256 64 4 4 3)
    LIMIT_BENCH=120; LIMIT_COMPILE=120; LIMIT_EPOCH=120
    # Two OpenMP threads on a busy 2-core machine spin at every op's barrier (30x slower measured):
    # the dry run checks the plumbing, not the speed, so one thread unless told otherwise.
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
    # inductor needs minutes of C++ code generation on 2 cores: the dry run checks dynamo tracing only.
    export DARTS_BENCH_COMPILE_BACKEND="${DARTS_BENCH_COMPILE_BACKEND:-eager}"
else
    DRY_RUN=0
    SEARCH_SIZE=(--batch-size 64)  # C=16, 8 cells (SearchConfig defaults); DARTS' batch 64
    TRAIN_SIZE=(--batch-size 96)   # C=36, 20 cells (TrainConfig defaults); the paper's batch 96
    INFER_SIZE=(--batch-size 256)
    STEPS=(--steps 10 --warmup 3)
    EPOCH_SIZE=(50000 10000 0 0 0)
    LIMIT_BENCH=90; LIMIT_COMPILE=180; LIMIT_EPOCH=200
fi

START=$SECONDS
FAILED=0

note() { printf '[gpu_check %4ds] %s\n' "$((SECONDS - START))" "$*"; }

error_json() {  # NAME MESSAGE RC SECONDS  (MESSAGE: fixed text only, no quotes)
    printf '{"name": "%s", "error": "%s", "rc": %d, "seconds": %d}\n' "$1" "$2" "$3" "$4" >"$OUT/$1.json"
}

# measure NAME LIMIT_S CMD...: run CMD with a time limit clipped to the budget left; its last stdout
# line (a JSON object) becomes OUT/NAME.json.
measure() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET_S - (SECONDS - START)))
    if [ "$left" -lt 20 ]; then
        note "$name: skipped (time budget spent)"
        error_json "$name" "skipped: time budget of ${BUDGET_S}s spent" 0 0
        FAILED=1
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    note "$name (limit ${limit}s): $*"
    local began=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$@" >"$OUT/logs/$name.log" 2>&1 || rc=$?
    local took=$((SECONDS - began))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        error_json "$name" "timed out after ${limit}s, see logs/$name.log" "$rc" "$took"
        FAILED=1
    elif [ "$rc" -ne 0 ]; then
        error_json "$name" "exit code $rc, see logs/$name.log" "$rc" "$took"
        FAILED=1
    else
        tail -n 1 "$OUT/logs/$name.log" >"$OUT/$name.json"
    fi
    note "$name: rc=$rc, ${took}s"
}

# One epoch of the real search / training loop; prints one JSON line (step_ms, images_per_s, peak_mem_mb first).
# Written next to the logs, so the measurement can be rerun by hand.
EPOCH_PY="$OUT/logs/epoch_run.py"
cat >"$EPOCH_PY" <<'EOF'
import json, math, sys, time
import torch
from benchmarks.bench import peak_memory_mb, reset_peak_memory, synchronize, synthetic_image_set
from fairdarts_core.checkpoint import resolve_device

kind, device_name = sys.argv[1], sys.argv[2]
n, n_test, batch, channels, layers = map(int, sys.argv[3:8])
device = resolve_device(device_name)
data = synthetic_image_set(n, seed=0)  # random images: only the speed is measured
sizes = {k: v for k, v in (("batch_size", batch), ("init_channels", channels), ("layers", layers)) if v}
if kind == "search":
    from fairdarts_core.search import search, search_config
    from variants import make_variant

    variant = make_variant("fair_darts")
    config = search_config("paper", variant, {"epochs": 1, **sizes})
    run = search(variant, data, config, device)
    steps = (n // 2) // config.batch_size  # the weight half, drop_last; each step also takes a val batch
    desc = {"variant": variant.name}
else:
    from fairdarts_core import PUBLISHED_GENOTYPES
    from fairdarts_core.train import TrainConfig, config_from, train

    config = config_from(TrainConfig(), {"epochs": 1, **sizes, "eval_batch_size": max(batch, 64) if batch else None})
    run = train(PUBLISHED_GENOTYPES["FairDARTS_a"], data, synthetic_image_set(n_test, seed=1), config, device)
    steps = -(-n // config.batch_size)
    desc = {"genotype": "FairDARTS_a", "test_images": n_test}
reset_peak_memory(device)
synchronize(device)
began = time.perf_counter()
record = next(iter(run))  # builds the model, moves the data, runs the epoch and its end-of-epoch evaluation
synchronize(device)
wall = time.perf_counter() - began
seconds = record["seconds"]
images = steps * config.batch_size if kind == "search" else n
print(json.dumps({
    "step_ms": round(1e3 * seconds / steps, 3), "images_per_s": round(images / seconds, 2),
    "peak_mem_mb": round(peak_memory_mb(device), 1), "what": f"{kind}_epoch", "device": str(device),
    "epoch_seconds": round(seconds, 2), "wall_s": round(wall, 2), "steps": steps, "images": images,
    "batch_size": config.batch_size, "init_channels": config.init_channels, "layers": config.layers, **desc,
    **{k: v for k, v in record.items()  # the record's numbers (strict JSON: no NaN)
       if isinstance(v, (int, float)) and math.isfinite(v) and k not in ("seconds", "images_per_s")},
}))
EOF

note "output $OUT, device $DEVICE (dry run: $DRY_RUN), budget ${BUDGET_S}s, bench command: ${BENCH[*]}"

# Most wanted first: what does not fit the budget is the end of the list.
measure bench_search_fast      "$LIMIT_BENCH"   "${BENCH[@]}" --what search "${SEARCH_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json
measure bench_search_reference "$LIMIT_BENCH"   "${BENCH[@]}" --what search "${SEARCH_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --reference
measure bench_train_fast       "$LIMIT_BENCH"   "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json
measure bench_train_reference  "$LIMIT_BENCH"   "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --reference
measure bench_infer_fast       "$LIMIT_BENCH"   "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json
measure bench_infer_reference  "$LIMIT_BENCH"   "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --reference
measure bench_train_amp        "$LIMIT_BENCH"   "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --amp
measure bench_infer_amp        "$LIMIT_BENCH"   "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --amp
measure search_epoch           "$LIMIT_EPOCH"   "$PY" "$EPOCH_PY" search "$DEVICE" "${EPOCH_SIZE[@]}"
measure train_epoch            "$LIMIT_EPOCH"   "$PY" "$EPOCH_PY" train "$DEVICE" "${EPOCH_SIZE[@]}"
measure bench_infer_compile    "$LIMIT_COMPILE" "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --compile
measure bench_train_compile    "$LIMIT_COMPILE" "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --compile

# summary.json: every result, the device name, fast / reference ratios, failures.
"$PY" - "$OUT" "$DEVICE" "$DRY_RUN" "$((SECONDS - START))" "$BUDGET_S" <<'EOF' || FAILED=1
import json, platform, subprocess, sys
from pathlib import Path

out, device, dry_run, seconds, budget = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
results, failed = {}, []
for path in sorted(out.glob("*.json")):
    if path.name == "summary.json":
        continue
    try:
        data = json.loads(path.read_text().strip().splitlines()[-1])
    except (ValueError, IndexError) as err:
        data = {"error": f"not a JSON line: {err}"}
    results[path.stem] = data
    if "error" in data or data.get("compile_error"):
        failed.append(path.stem)

gpu_name = None
try:
    import torch

    torch_version = torch.__version__
    if device != "cpu" and torch.cuda.is_available():
        gpu_name = torch.cuda.get_device_name(0)
except Exception:  # noqa: BLE001
    torch_version = None
if gpu_name is None and device != "cpu":
    try:
        gpu_name = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                  text=True, timeout=30).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        gpu_name = None

ratios = {}
for what in ("search", "train", "infer"):
    fast, ref = results.get(f"bench_{what}_fast", {}), results.get(f"bench_{what}_reference", {})
    if fast.get("step_ms") and ref.get("step_ms"):
        ratios[f"{what}_reference_over_fast"] = round(ref["step_ms"] / fast["step_ms"], 3)
    for extra in ("amp", "compile"):
        other = results.get(f"bench_{what}_{extra}", {})
        if fast.get("step_ms") and other.get("step_ms"):
            ratios[f"{what}_fast_over_{extra}"] = round(fast["step_ms"] / other["step_ms"], 3)
# The paper preset's 7-seed stability experiment on this device, from the measured epochs: 7 searches
# of 50 epochs and 7 trainings of 600 epochs (one trial per GPU at a time), against the published
# 0.25 GPU-days (6 GPU-hours) per FairDARTS search. Meaningless for the dry run's tiny sizes.
projection = {}
search_epoch, train_epoch = results.get("search_epoch", {}), results.get("train_epoch", {})
if search_epoch.get("epoch_seconds"):
    per_search_h = 50 * search_epoch["epoch_seconds"] / 3600
    projection["search_gpu_hours_each"] = round(per_search_h, 2)
    projection["search_vs_published_6h"] = round(per_search_h / 6.0, 3)
    projection["stability_searches_gpu_hours"] = round(7 * per_search_h, 1)
if train_epoch.get("epoch_seconds"):
    per_train_h = 600 * train_epoch["epoch_seconds"] / 3600
    projection["train_gpu_hours_each"] = round(per_train_h, 1)
    projection["stability_trainings_gpu_hours"] = round(7 * per_train_h, 1)
if len(projection) == 5:
    projection["stability_total_gpu_hours"] = round(projection["stability_searches_gpu_hours"]
                                                    + projection["stability_trainings_gpu_hours"], 1)
summary = {
    "device": device, "gpu_name": gpu_name, "cpu": platform.processor() or platform.machine(),
    "dry_run": dry_run, "torch": torch_version, "seconds": seconds, "budget_s": budget,
    "ratios": ratios, "projection": projection, "failed": failed, "results": results,
}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps({k: summary[k] for k in ("device", "gpu_name", "seconds", "ratios", "projection", "failed")}))
EOF

note "done in $((SECONDS - START))s; summary: $OUT/summary.json"
[ "$FAILED" -eq 0 ] && [ -s "$OUT/summary.json" ] || exit 1
