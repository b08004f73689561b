#!/usr/bin/env bash
# Performance check for a lent GPU machine: everything in one call, within GPU_CHECK_BUDGET_S seconds
# (default 420, under 8 minutes), its summary written however far it got.
#
#   bash benchmarks/perf/gpu_check.sh [OUTDIR [DEVICE]]   OUTDIR default results/perf, DEVICE default cuda
#   bash benchmarks/perf/gpu_check.sh /tmp/perf cpu       dry run: every step at tiny sizes (batch 4, C=4,
#                                                         3 cells, 1 step, 64 synthetic images), for tests
#
# Writes exactly two files to OUTDIR (what a device machine brings back): summary.json (every result,
# the device, fast / reference ratios, the cost projection of the paper-preset studies, failures) and
# gpu_check_logs.tar.gz (each step's log and JSON line). Each step runs in its own process with a time
# limit clipped to the budget left; a step that no longer fits is recorded as skipped. Order: the
# fast / reference benches (the ratios), then the torch.compile steps with a fixed share of the budget
# (inductor compiles for minutes), then bf16, the host-device sync check and the two real epochs.
# Exit code 0 when every step produced a result, 1 otherwise.
set -u

OUT="${1:-results/perf}"
DEVICE="${2:-cuda}"
BUDGET_S="${GPU_CHECK_BUDGET_S:-420}"
PY="${PYTHON:-$(command -v python || command -v python3)}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$OUT" || exit 1
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"
mkdir -p "$WORK/logs"
cd "$ROOT" || exit 1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout first, whatever is installed
export PYTHONUNBUFFERED=1
BENCH=("$PY" -m benchmarks.cli bench)

if [ "$DEVICE" = "cpu" ]; then
    DRY_RUN=1
    SEARCH_SIZE=(--batch-size 4 --init-channels 4 --layers 3)
    TRAIN_SIZE=(--batch-size 4 --init-channels 4 --layers 3)
    INFER_SIZE=(--batch-size 4 --init-channels 4 --layers 3)
    STEPS=(--steps 1 --warmup 0)
    EPOCH_SIZE=(64 32 4 4 3)  # images, test images, batch, C, cells
    LIMIT_BENCH=120; LIMIT_COMPILE=150; LIMIT_EPOCH=120
    # Two OpenMP threads on a busy 2-core machine spin at every op's barrier: the dry run checks the
    # plumbing, not the speed, so one thread unless told otherwise.
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
    # inductor needs minutes of C++ code generation on 2 cores: the dry run checks dynamo tracing.
    export DARTS_BENCH_COMPILE_BACKEND="${DARTS_BENCH_COMPILE_BACKEND:-eager}"
else
    DRY_RUN=0
    SEARCH_SIZE=(--batch-size 64)  # C=16, 8 cells; DARTS' batch 64
    TRAIN_SIZE=(--batch-size 96)   # C=36, 20 cells; the paper's batch 96
    INFER_SIZE=(--batch-size 256)
    STEPS=(--steps 10 --warmup 3)
    EPOCH_SIZE=(50000 10000 0 0 0)
    LIMIT_BENCH=60; LIMIT_COMPILE=110; LIMIT_EPOCH=110
fi

START=$SECONDS
FAILED=0
note() { printf '[gpu_check %4ds] %s\n' "$((SECONDS - START))" "$*"; }

error_json() {  # NAME MESSAGE RC SECONDS  (MESSAGE: fixed text only, no quotes)
    printf '{"name": "%s", "error": "%s", "rc": %d, "seconds": %d}\n' "$1" "$2" "$3" "$4" >"$WORK/$1.json"
}

# measure NAME LIMIT_S CMD...: run CMD with a time limit clipped to the budget left (20 s are kept for
# the summary); its last stdout line (a JSON object) becomes WORK/NAME.json.
measure() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET_S - 20 - (SECONDS - START)))
    if [ "$left" -lt 15 ]; then
        note "$name: skipped (time budget spent)"
        error_json "$name" "skipped: time budget of ${BUDGET_S}s spent" 0 0
        FAILED=1
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    note "$name (limit ${limit}s): $*"
    local began=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$@" >"$WORK/logs/$name.log" 2>&1 || rc=$?
    local took=$((SECONDS - began))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        error_json "$name" "timed out after ${limit}s, see logs/$name.log" "$rc" "$took"
        FAILED=1
    elif [ "$rc" -ne 0 ]; then
        error_json "$name" "exit code $rc, see logs/$name.log" "$rc" "$took"
        FAILED=1
    else
        tail -n 1 "$WORK/logs/$name.log" >"$WORK/$name.json"
    fi
    note "$name: rc=$rc, ${took}s"
}

# summary.json and the log archive, whatever happened before (also on Ctrl-C or a kill by timeout).
summarize() {
    "$PY" -m benchmarks.perf.gpu_summary "$WORK" "$OUT" "$DEVICE" "$DRY_RUN" "$((SECONDS - START))" "$BUDGET_S" \
        || FAILED=1
    tar -czf "$OUT/gpu_check_logs.tar.gz" -C "$WORK" . 2>/dev/null || FAILED=1
    note "done in $((SECONDS - START))s: $OUT/summary.json, $OUT/gpu_check_logs.tar.gz"
}
trap 'summarize; rm -rf "$WORK"; trap - EXIT; exit 1' INT TERM
trap 'summarize; rm -rf "$WORK"' EXIT

note "output $OUT, device $DEVICE (dry run: $DRY_RUN), budget ${BUDGET_S}s, python $PY"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
    >"$WORK/logs/versions.log" 2>&1 || { note "python with torch not found: $PY"; FAILED=1; exit 1; }

measure bench_search_fast      "$LIMIT_BENCH"   "${BENCH[@]}" --what search "${SEARCH_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json
measure bench_search_reference "$LIMIT_BENCH"   "${BENCH[@]}" --what search "${SEARCH_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --reference
measure bench_train_fast       "$LIMIT_BENCH"   "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json
measure bench_train_reference  "$LIMIT_BENCH"   "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --reference
measure bench_infer_fast       "$LIMIT_BENCH"   "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json
measure bench_infer_reference  "$LIMIT_BENCH"   "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --reference
measure bench_train_compile    "$LIMIT_COMPILE" "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --compile
measure bench_infer_compile    "$LIMIT_COMPILE" "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --compile
measure bench_train_amp        "$LIMIT_BENCH"   "${BENCH[@]}" --what train "${TRAIN_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --amp
measure bench_infer_amp        "$LIMIT_BENCH"   "${BENCH[@]}" --what infer "${INFER_SIZE[@]}" "${STEPS[@]}" --device "$DEVICE" --json --amp
measure sync_check             "$LIMIT_BENCH"   "$PY" -m benchmarks.perf.sync_check "$DEVICE"
measure search_epoch           "$LIMIT_EPOCH"   "$PY" -m benchmarks.perf.epoch_run search "$DEVICE" "${EPOCH_SIZE[@]}"
measure train_epoch            "$LIMIT_EPOCH"   "$PY" -m benchmarks.perf.epoch_run train "$DEVICE" "${EPOCH_SIZE[@]}"
trap - EXIT INT TERM
summarize
rm -rf "$WORK"
[ "$FAILED" -eq 0 ]
