"""darts-bench bench: the time of one search / training / inference step, fast path vs the official code's.

Every measurement builds the model, runs `--warmup` untimed steps, then times `--steps` steps one by
one (with `torch.cuda.synchronize()` around each on CUDA) and reports the median.

  search  one first-order bi-level step of the variant, as the loop in `fairdarts_core.search.search`
          runs it: fetch a search-val and a search-train batch, arch step (forward, gradient w.r.t. the
          alphas, Adam step), weight step (forward, gradient w.r.t. the weights, clip 5, SGD step).
          Defaults: SearchConfig's C=16, 8 cells, the variant's published (`paper`) learning rates.
  train   one step of the evaluation network of `--genotype` (TrainConfig defaults: C=36, 20 cells,
          auxiliary head 0.4, drop path 0.2, cutout 16, SGD, clip 5).
  infer   one eval-mode forward of the evaluation network at the batch size, without gradients.

Paths:
  fast (default)  the library's: uint8 tensors on the device sliced and augmented by `Batches`,
                  channels_last, the shared-ReLU mixed op (`SearchNetwork(fast=True)`), gradients of
                  only what each search step updates; for train / infer the evaluation network's fast
                  cells (shared and in-place ReLUs, in-place sums) and `fastops.speed_up` (dilated
                  convs on subsampled input, BatchNorm of odd widths on a 16-float-wide view); `--amp`
                  (bf16 autocast, CUDA only) and `--compile` (torch.compile; a failure is caught, reported and the step runs eager)
                  for train / infer; infer under `torch.inference_mode`.
  --reference     what the official DARTS / FairDARTS code does: NCHW fp32, the plain Python-sum mixed
                  op (`SearchNetwork(fast=False)`), `loss.backward()` over every parameter in both search
                  steps, cudnn.benchmark on, and torchvision-style data: a map Dataset of PIL images
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
model is built (it still counts the model, which stays allocated). On CPU it is the peak resident set
size of this process (`getrusage(RUSAGE_SELF).ru_maxrss`): process-wide, so it includes everything
the process did before (imports, the data, earlier benchmarks in the same process) and excludes the
DataLoader worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WHATS = ("search", "train", "infer")
RESULT_KEYS = ("step_ms", "images_per_s", "peak_mem_mb")  # the first three keys of the JSON line, in order
REFERENCE_WORKERS = 2  # the official code's DataLoader(num_workers=2)
# torch.compile backend; only gpu_check.sh's CPU dry run sets it ("eager": dynamo tracing without the
# minutes of inductor code generation on 2 cores).
COMPILE_BACKEND_ENV = "DARTS_BENCH_COMPILE_BACKEND"
MIN_BATCHES = 8  # per split: enough that a fresh val iterator's prefetch (2 workers x 2 batches) is real


# ----- data ---------------------------------------------------------------------------------------
def synthetic_image_set(n: int, num_classes: int = 10, seed: int = 0):
    """n random CIFAR-sized uint8 images with random labels. For timing only (see the module docstring)."""
    from fairdarts_core.data import CIFAR_MEAN, CIFAR_STD, ImageSet

    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    return ImageSet(images, labels, num_classes, CIFAR_MEAN, CIFAR_STD, "synthetic-cifar")


class Cutout:
    """The official DARTS Cutout: zero a length x length square (clipped at the border) of a CHW tensor."""

    def __init__(self, length: int):
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[1], img.shape[2]
        mask = np.ones((h, w), np.float32)
        y, x = np.random.randint(h), np.random.randint(w)
        y1, y2 = np.clip(y - self.length // 2, 0, h), np.clip(y + self.length // 2, 0, h)
        x1, x2 = np.clip(x - self.length // 2, 0, w), np.clip(x + self.length // 2, 0, w)
        mask[y1:y2, x1:x2] = 0.0
        return img * torch.from_numpy(mask).expand_as(img)


def reference_transform(mean, std, augment: bool = True, cutout: int = 0):
    """The official torchvision pipeline: [RandomCrop(32, 4), flip,] ToTensor, Normalize[, Cutout]."""
    from torchvision import transforms

    steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] if augment else []
    steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
    if cutout:
        steps.append(Cutout(cutout))
    return transforms.Compose(steps)


class PILImageDataset(torch.utils.data.Dataset):
    """A torchvision-style map dataset: HWC uint8 arrays (like `CIFAR10.data`) -> PIL image -> transform."""

    def __init__(self, data, transform: Callable):
        self.images = data.images.permute(0, 2, 3, 1).contiguous().numpy()  # (N, 32, 32, 3) uint8
        self.labels = data.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


def reference_loader(dataset, batch_size: int, device: torch.device, indices=None,
                     shuffle: bool = True) -> torch.utils.data.DataLoader:
    """DataLoader(num_workers=2, pin_memory on CUDA), over `indices` by a SubsetRandomSampler as the official search."""
    sampler = torch.utils.data.SubsetRandomSampler(list(indices)) if indices is not None else None
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                                       shuffle=shuffle if sampler is None else None,
                                       num_workers=REFERENCE_WORKERS, pin_memory=device.type == "cuda")


def persistent(loader) -> Iterator:
    """Batches from one iterator (a new one only at the end of an epoch), as `for x, y in queue:`."""
    while True:
        yield from loader


def to_device(xy, device: torch.device):
    x, y = xy
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


# ----- the steps (shared by both paths) -------------------------------------------------------------
def search_step(model, variant, w_optimizer: torch.optim.Optimizer, a_optimizer: torch.optim.Optimizer,
                train_xy, val_xy, grad_clip: float = 5.0, full_backward: bool = False):
    """One first-order bi-level step; returns (val_loss, train_loss), detached, without a device sync.

    full_backward=False is the library's loop (`fairdarts_core.search.search`): each step takes the
    gradient of only what it updates (`torch.autograd.grad`). full_backward=True is the official code:
    `loss.backward()` over every parameter in both steps, the extra gradients discarded by the next
    `zero_grad()`. Both update the same parameters by the same amounts.
    """
    from fairdarts_core.search import _loss

    x_v, y_v = val_xy
    arch = model.arch_parameters()
    weights_only = model.weight_parameters()
    a_optimizer.zero_grad(set_to_none=True)
    total, val_loss, _ = _loss(model, variant, x_v, y_v)
    if full_backward:
        total.backward()
    else:
        for a, g in zip(arch, torch.autograd.grad(total, arch)):
            a.grad = g
    a_optimizer.step()

    x_t, y_t = train_xy
    w_optimizer.zero_grad(set_to_none=True)
    total, train_loss, _ = _loss(model, variant, x_t, y_t)
    if full_backward:
        total.backward()
    else:
        for p, g in zip(weights_only, torch.autograd.grad(total, weights_only)):
            p.grad = g
    nn.utils.clip_grad_norm_(weights_only, grad_clip)
    w_optimizer.step()
    return val_loss.detach(), train_loss.detach()


def search_optimizers(model, config) -> tuple[torch.optim.SGD, torch.optim.Adam]:
    """(weight SGD, arch Adam) as `fairdarts_core.search.search` builds them."""
    w_optimizer = torch.optim.SGD(model.weight_parameters(), config.learning_rate, momentum=config.momentum,
                                  weight_decay=config.weight_decay)
    a_optimizer = torch.optim.Adam(model.arch_parameters(), config.arch_learning_rate,
                                   betas=(config.arch_beta1, config.arch_beta2),
                                   weight_decay=config.arch_weight_decay)
    return w_optimizer, a_optimizer


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               auxiliary_weight: float = 0.4, grad_clip: float = 5.0, amp: bool = False,
               params: list | None = None) -> torch.Tensor:
    """One step of `fairdarts_core.train.train` (and of the official train.py): CE + aux, clip, SGD."""
    from fairdarts_core.train import _autocast

    with _autocast(x.device, amp):
        logits, logits_aux = model(x)
    loss = F.cross_entropy(logits.float(), y)
    if logits_aux is not None:
        loss = loss + auxiliary_weight * F.cross_entropy(logits_aux.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(params if params is not None else model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach()


# ----- timing and memory ---------------------------------------------------------------------------
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
    """CUDA: max allocated since the last reset; CPU: this process's peak RSS (process-wide, see above)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


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


# ----- setups -------------------------------------------------------------------------------------
@dataclass
class Bench:
    """A prepared measurement: `step()` runs one step (fetching its batches); `meta` goes into the result."""

    step: Callable[[], Any]
    batch_size: int
    meta: dict[str, Any] = field(default_factory=dict)


def _n_per_split(args: argparse.Namespace) -> int:
    """Images per split: every timed step gets a batch of the same epoch (no epoch end in the window)."""
    return args.batch_size * max(MIN_BATCHES, args.warmup + args.steps + 2)


def setup_search(args: argparse.Namespace, device: torch.device) -> Bench:
    from fairdarts_core.data import Augment, Batches, search_split
    from fairdarts_core.search import build_supernet, search_config
    from variants import make_variant

    variant = make_variant(args.variant)
    if not variant.searches:
        raise ValueError(f"variant {variant.name} does not search; it samples genotypes (nothing to time)")
    ref = args.reference
    config = search_config("paper", variant, {
        "batch_size": args.batch_size, "init_channels": args.init_channels, "layers": args.layers,
        "fast": not ref, "channels_last": not ref,
    })
    n = _n_per_split(args)
    data = synthetic_image_set(2 * n, seed=config.seed)
    model = build_supernet(variant, config, data.num_classes, device)
    w_optimizer, a_optimizer = search_optimizers(model, config)
    variant.start_epoch(0)
    model.train()
    if ref:
        dataset = PILImageDataset(data, reference_transform(data.mean, data.std))
        train_queue = reference_loader(dataset, config.batch_size, device, indices=range(n))
        valid_queue = reference_loader(dataset, config.batch_size, device, indices=range(n, 2 * n))
        train_stream = persistent(train_queue)

        def next_batches():
            val = to_device(next(iter(valid_queue)), device)  # a new iterator (and 2 workers) every step
            return to_device(next(train_stream), device), val
        data_desc = f"DataLoader({REFERENCE_WORKERS} workers, new val iterator per step)"
    else:
        weight_set, arch_set = search_split(data, config.train_portion)
        augment = Augment()
        train_stream = Batches(weight_set, config.batch_size, device, augment, seed=config.seed,
                               channels_last=config.channels_last, drop_last=True).forever()
        val_stream = Batches(arch_set, config.batch_size, device, augment, seed=config.seed + 1,
                             channels_last=config.channels_last, drop_last=True).forever()

        def next_batches():
            val = next(val_stream)
            return next(train_stream), val
        data_desc = "Batches (uint8 on device)"

    def step():
        train_xy, val_xy = next_batches()
        return search_step(model, variant, w_optimizer, a_optimizer, train_xy, val_xy, config.grad_clip,
                           full_backward=ref)

    meta = {"variant": variant.name, "init_channels": config.init_channels, "layers": config.layers,
            "data": data_desc, "memory_format": "channels_last" if config.channels_last else "nchw",
            "mixed_op": "fast" if config.fast else "plain"}
    return Bench(step, config.batch_size, meta)


def _train_config(args: argparse.Namespace):
    from fairdarts_core.train import TrainConfig, config_from

    return config_from(TrainConfig(), {"batch_size": args.batch_size, "eval_batch_size": args.batch_size,
                                       "init_channels": args.init_channels, "layers": args.layers,
                                       "channels_last": not args.reference, "fast": not args.reference,
                                       "amp": args.amp})


def _maybe_compile(model: nn.Module, args: argparse.Namespace, meta: dict[str, Any]) -> nn.Module:
    if not args.compile:
        return model
    backend = os.environ.get(COMPILE_BACKEND_ENV, "inductor")
    meta["compiled"] = False
    meta["compile_backend"] = backend
    try:
        return torch.compile(model, backend=backend)
    except Exception as err:  # noqa: BLE001 - any failure: report it and run eager
        meta["compile_error"] = _one_line(err)
        return model


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


def _with_compile_check(step_compiled: Callable, step_eager: Callable, meta: dict[str, Any],
                        compiling: bool) -> Callable:
    """Run one untimed step through the compiled model (compilation happens there); on failure, eager."""
    if not compiling or "compile_error" in meta:
        return step_eager
    try:
        step_compiled()
        meta["compiled"] = True
        return step_compiled
    except Exception as err:  # noqa: BLE001
        meta["compile_error"] = _one_line(err)
        with contextlib.suppress(Exception):
            torch._dynamo.reset()
        return step_eager


def setup_train(args: argparse.Namespace, device: torch.device) -> Bench:
    from fairdarts_core import PUBLISHED_GENOTYPES, load_genotype
    from fairdarts_core.data import Augment, Batches
    from fairdarts_core.train import build_model

    genotype = load_genotype(args.genotype, PUBLISHED_GENOTYPES)
    config = _train_config(args)
    torch.manual_seed(config.seed)
    data = synthetic_image_set(_n_per_split(args), seed=config.seed)
    model = build_model(genotype, config, data.num_classes, device)
    model.drop_path_prob = config.drop_path_prob
    model.train()
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, config.learning_rate, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    if args.reference:
        dataset = PILImageDataset(data, reference_transform(data.mean, data.std, cutout=config.cutout))
        stream = persistent(reference_loader(dataset, config.batch_size, device))
        next_batch = lambda: to_device(next(stream), device)  # noqa: E731
        data_desc = f"DataLoader({REFERENCE_WORKERS} workers)"
    else:
        stream = Batches(data, config.batch_size, device, Augment(cutout=config.cutout), seed=config.seed,
                         channels_last=config.channels_last).forever()
        next_batch = lambda: next(stream)  # noqa: E731
        data_desc = "Batches (uint8 on device)"
    meta = {"genotype": str(args.genotype), "init_channels": config.init_channels, "layers": config.layers,
            "data": data_desc, "memory_format": "channels_last" if config.channels_last else "nchw",
            "amp": bool(config.amp and device.type == "cuda")}
    runner = _maybe_compile(model, args, meta)

    def make(net):
        def step():
            x, y = next_batch()
            return train_step(net, optimizer, x, y, config.auxiliary_weight, config.grad_clip, config.amp, params)
        return step

    step = _with_compile_check(make(runner), make(model), meta, runner is not model)
    return Bench(step, config.batch_size, meta)


def setup_infer(args: argparse.Namespace, device: torch.device) -> Bench:
    from fairdarts_core import PUBLISHED_GENOTYPES, load_genotype
    from fairdarts_core.data import NO_AUGMENT, Batches
    from fairdarts_core.evalnet import fold_batchnorm, predict
    from fairdarts_core.train import _autocast, build_model

    genotype = load_genotype(args.genotype, PUBLISHED_GENOTYPES)
    config = _train_config(args)
    torch.manual_seed(config.seed)
    data = synthetic_image_set(_n_per_split(args), seed=config.seed)
    model = build_model(genotype, config, data.num_classes, device).eval()
    if config.fast:
        model = fold_batchnorm(model)
    if args.reference:
        dataset = PILImageDataset(data, reference_transform(data.mean, data.std, augment=False))
        stream = persistent(reference_loader(dataset, config.batch_size, device, shuffle=False))

        def step_with(net):
            def step():
                x, _ = to_device(next(stream), device)
                with torch.no_grad():
                    return net(x)[0]
            return step
        data_desc = f"DataLoader({REFERENCE_WORKERS} workers)"
    else:
        stream = Batches(data, config.batch_size, device, NO_AUGMENT, shuffle=False,
                         channels_last=config.channels_last).forever()

        def step_with(net):
            def step():
                x, _ = next(stream)
                with torch.inference_mode(), _autocast(device, config.amp):
                    return predict(net, x)
            return step
        data_desc = "Batches (uint8 on device)"
    meta = {"genotype": str(args.genotype), "init_channels": config.init_channels, "layers": config.layers,
            "data": data_desc, "memory_format": "channels_last" if config.channels_last else "nchw",
            "amp": bool(config.amp and device.type == "cuda")}
    runner = _maybe_compile(model, args, meta)
    step = _with_compile_check(step_with(runner), step_with(model), meta, runner is not model)
    return Bench(step, config.batch_size, meta)


SETUPS: dict[str, Callable[[argparse.Namespace, torch.device], Bench]] = {
    "search": setup_search, "train": setup_train, "infer": setup_infer,
}


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
    if (args.amp or args.compile) and args.what == "search":
        raise ValueError("--amp and --compile apply to --what train and infer, not search")
    if (args.amp or args.compile) and args.reference:
        raise ValueError("--amp and --compile apply to the fast path; --reference is the official fp32 eager code")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run one measurement; returns the result dict (RESULT_KEYS first)."""
    from fairdarts_core.allocator import keep_freed_memory
    from fairdarts_core.checkpoint import resolve_device

    _check_args(args)
    if not args.reference:  # the fast path's allocator setting, as the search / train loops set it
        keep_freed_memory()
    device = resolve_device(args.device)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {args.device!r} requested but only {torch.cuda.device_count()} CUDA GPU(s) exist")
    with cudnn_benchmark(args.reference and device.type == "cuda"):
        prepared = SETUPS[args.what](args, device)
        reset_peak_memory(device)
        times = time_steps(prepared.step, args.steps, args.warmup, device)
        peak = peak_memory_mb(device)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu ({torch.get_num_threads()} threads)"
    return summarize(
        times, prepared.batch_size, peak,
        what=args.what, path="reference" if args.reference else "fast", reference=bool(args.reference),
        device=str(device), device_name=device_name, steps=args.steps,
        warmup=args.warmup, **prepared.meta, threads=torch.get_num_threads(), torch=torch.__version__,
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
