"""Performance tools: `darts-bench bench` (bench, setups, timing, the official data path in
reference), `darts-bench perf` (cpu_perf.py, cpu_perf.sh) and gpu_check.sh."""
