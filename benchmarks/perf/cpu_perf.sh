#!/usr/bin/env bash
# The CPU performance figures (`darts-bench perf`, benchmarks/perf/cpu_perf.py): every `darts-bench
# bench` step of every variant, fast path against its plain reference, in interleaved pairs, one process
# per run, on an otherwise idle machine; medians with their range. Writes OUTDIR/cpu.jsonl and
# OUTDIR/cpu_summary.json.
#
#   bash benchmarks/perf/cpu_perf.sh [OUTDIR] [--pairs N] [--only LABEL,...]     OUTDIR default results/perf
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY="${PYTHON:-$(command -v python || command -v python3)}"
exec "$PY" -m benchmarks.cli perf "$@"
