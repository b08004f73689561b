"""Performance tools: `darts-bench bench` (bench, setups, timing, the official data path in
reference), cpu_perf.sh and gpu_check.sh."""
