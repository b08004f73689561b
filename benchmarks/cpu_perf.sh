#!/usr/bin/env bash
# The issue-5 CPU comparison: each benchmark's fast path and --reference back to back, one process
# each (peak RSS is per process), on an otherwise idle machine. Appends one JSON line per run to
# OUTDIR/cpu.jsonl and prints the fast / reference ratios at the end.
#
#   bash benchmarks/cpu_perf.sh [OUTDIR]      OUTDIR default results/perf
set -eu
OUT="${1:-results/perf}"
mkdir -p "$OUT"
LOG="$OUT/cpu.jsonl"
: > "$LOG"
run() {  # label, then darts-bench bench arguments
    local label="$1"; shift
    echo "== $label: darts-bench bench $*" >&2
    darts-bench bench "$@" --json | tail -n 1 | python -c "import json,sys; r=json.loads(sys.stdin.read()); r['label']='$label'; print(json.dumps(r))" >> "$LOG"
    tail -n 1 "$LOG" >&2
}
SEARCH=(--what search --variant fair_darts --batch-size 32 --init-channels 16 --layers 8 --steps 3)
TRAIN=(--what train --genotype FairDARTS_a --batch-size 32 --steps 3)
INFER=(--what infer --genotype FairDARTS_a --batch-size 256 --steps 3)
run search-fast "${SEARCH[@]}"
run search-reference "${SEARCH[@]}" --reference
run train-fast "${TRAIN[@]}"
run train-reference "${TRAIN[@]}" --reference
run infer-fast "${INFER[@]}"
run infer-reference "${INFER[@]}" --reference
python - "$LOG" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
print(f"{'what':8} {'fast ms':>10} {'reference ms':>13} {'speed-up':>9} {'fast MB':>8} {'ref MB':>8}")
for what in ("search", "train", "infer"):
    f, r = rows[f"{what}-fast"], rows[f"{what}-reference"]
    print(f"{what:8} {f['step_ms']:10.0f} {r['step_ms']:13.0f} {r['step_ms'] / f['step_ms']:8.2f}x "
          f"{f['peak_mem_mb']:8.0f} {r['peak_mem_mb']:8.0f}")
PY
