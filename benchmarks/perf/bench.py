"""darts-bench bench: the time of one search / training / inference step, fast path vs the official code's.

Every measurement builds the model, runs `--warmup` untimed steps, then times `--steps` steps one by
one (with `torch.cuda.synchronize()` around each on CUDA) and reports the median.

  search  one step of the variant's search, `SearchRun.step` as the loop runs it:
          fetch a search-val and a search-train batch, arch step (first or second order: forward,
          gradient w.r.t. the architecture parameters, Adam step), weight step (forward, gradient
          w.r.t. the weights, clip 5, SGD step). Defaults: C=16, 8 cells, the variant's published
          (`paper`) settings; `--stage` times a later stage of a staged variant (P-DARTS).
  train   one step of the evaluation network of `--genotype` (TrainConfig defaults: C=36, 20 cells,
          auxiliary head 0.4, drop path 0.2, cutout 16, SGD, clip 5).
  infer   one eval-mode forward of the evaluation network at the batch size, without gradients.

Paths:
  fast (default)  the library's: uint8 tensors on the device sliced and augmented by `Batches`,
                  channels_last, the fast mixed op (SearchConfig.fast), gradients of only what each
                  search step updates; for train / infer the evaluation network's fast cells (shared and
                  in-place ReLUs, in-place sums) and, on the CPU, `fastops.speed_up` (dilated convs on
                  subsampled input, BatchNorm of odd widths on a 16-float-wide view); `--amp` (bf16
                  autocast, CUDA only) and `--compile` (torch.compile; a failure is caught, reported and
                  the step runs eager) for train / infer; infer under `torch.inference_mode`.
  --reference     what the official DARTS / FairDARTS code does: NCHW fp32, the plain Python-sum mixed
                  op (SearchConfig.fast off), `loss.backward()` over every parameter in both search
                  steps, and torchvision-style data: a map Dataset of PIL images
                  (RandomCrop(32, 4), flip, ToTensor, Normalize, Cutout for training) behind a
                  `DataLoader(num_workers=2)`. The search-val batch comes from a NEW iterator every step
                  (`next(iter(valid_queue))`, which starts two worker processes each time); the train
                  and test batches come from a persistent iterator.

Data: the images are random 3x32x32 uint8 tensors with random labels (CIFAR-10 sized and normalized
with the CIFAR-10 statistics). Synthetic data is acceptable here ONLY because nothing but speed is
measured; nothing else in the project falls back to random data.

Reported: step_ms (median), images_per_s = batch size / median step (search: weight-training images,
each step also consumes one search-val batch, so 25,000 / images_per_s is a CIFAR-10 search epoch),
peak_mem_mb. On CUDA the peak is `torch.cuda.max_memory_allocated` since a reset taken after the
model is built (it still counts the model, which stays allocated), and peak_reserved_mb the caching
allocator's peak (`max_memory_reserved`), what a trial packed onto a shared GPU needs of it (plus
the CUDA context). cudnn.benchmark is on for both paths on CUDA. On CPU it is the peak resident set
size of this process (`getrusage(RUSAGE_SELF).ru_maxrss`): process-wide, so it includes everything
the process did before (imports, the data, earlier benchmarks in the same process) and excludes the
DataLoader worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

import torch

from .setups import SETUPS
from .timing import format_table, peak_memory_mb, peak_reserved_mb, reset_peak_memory, summarize, time_steps

WHATS = tuple(SETUPS)


@contextlib.contextmanager
def cudnn_benchmark(enabled: bool):
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def _check_args(args: argparse.Namespace) -> None:
    if args.what not in SETUPS:
        raise ValueError(f"unknown benchmark {args.what!r}; valid: {', '.join(SETUPS)}")
    if args.steps < 1 or args.warmup < 0 or args.batch_size < 1:
        raise ValueError("--steps and --batch-size must be >= 1 and --warmup >= 0")
    if args.what != "search" and (args.order or args.stage or args.space != "darts"):
        raise ValueError("--order, --stage and --space apply to --what search")
    if (args.amp or args.compile) and args.what == "search":
        raise ValueError("--amp and --compile apply to --what train and infer, not search")
    if (args.amp or args.compile) and args.reference:
        raise ValueError("--amp and --compile apply to the fast path; --reference is the official fp32 eager code")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run one measurement; returns the result dict (RESULT_KEYS first)."""
    from fairdarts_core.allocator import keep_freed_memory
    from fairdarts_core.checkpoint import resolve_device

    _check_args(args)
    device = resolve_device(args.device)
    if not args.reference and device.type == "cpu":  # the CPU fast path's allocator, as the loops set it
        keep_freed_memory()
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {args.device!r} requested but only {torch.cuda.device_count()} CUDA GPU(s) exist")
    with cudnn_benchmark(device.type == "cuda"):  # both paths, as the library's loops set it on CUDA
        prepared = SETUPS[args.what](args, device)
        reset_peak_memory(device)
        times = time_steps(prepared.step, args.steps, args.warmup, device)
        peak = peak_memory_mb(device)
        reserved = peak_reserved_mb(device)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads)"
    return summarize(
        times, prepared.batch_size, peak,
        what=args.what, path="reference" if args.reference else "fast", reference=bool(args.reference),
        device=str(device), device_name=device_name, steps=args.steps,
        warmup=args.warmup, **prepared.meta, threads=torch.get_num_threads(), torch=torch.__version__,
        **({"peak_reserved_mb": round(reserved, 1)} if reserved is not None else {}),
    )


def run_bench(args: argparse.Namespace) -> int:
    """darts-bench bench: print a table, or with --json one JSON line (the last line of stdout)."""
    result = bench(args)
    if result.get("compile_error"):
        print(f"darts-bench: torch.compile failed, timed eager instead: {result['compile_error']}", file=sys.stderr)
    if args.amp and result.get("amp") is False:
        print("darts-bench: --amp has no effect on CPU (bf16 autocast is CUDA only)", file=sys.stderr)
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print(format_table(result), flush=True)
    return 0
