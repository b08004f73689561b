"""The prepared measurements of `darts-bench bench`: one search, training or inference step on the
fast path or on the plain path of the official code, with its batches."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .reference import (
    REFERENCE_WORKERS,
    PILImageDataset,
    persistent,
    reference_loader,
    reference_transform,
    synthetic_image_set,
    to_device,
)

# torch.compile backend; only gpu_check.sh's CPU dry run sets it ("eager": dynamo tracing without the
# minutes of inductor code generation on 2 cores).
COMPILE_BACKEND_ENV = "DARTS_BENCH_COMPILE_BACKEND"
MIN_BATCHES = 8  # per split: enough that a fresh val iterator's prefetch (2 workers x 2 batches) is real


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
    """One `SearchRun.step` of the variant in stage --stage, as the search runs it (--reference: the
    official code's full backward, plain mixed op and DataLoader)."""
    from fairdarts_core.data import Augment, Batches, search_split
    from fairdarts_core.search_run import SearchRun
    from fairdarts_core.sizes import PRESETS
    from fairdarts_core.variant import Progress
    from variants import make_variant

    variant = make_variant(args.variant)
    ref = args.reference
    config = PRESETS["paper"].search_config(variant, {
        "space": args.space, "batch_size": args.batch_size, "init_channels": args.init_channels,
        "layers": args.layers, "order": args.order, "fast": not ref, "channels_last": not ref,
    })
    run = SearchRun(variant, config, device, full_backward=ref)
    if not 0 <= args.stage < len(run.stages):
        raise ValueError(f"--stage {args.stage}: {variant.name} has stages 0..{len(run.stages) - 1}")
    _prune_before(run, args.stage)
    n = _n_per_split(args)
    data = synthetic_image_set(2 * n, seed=config.seed)
    run.start_stage(data.num_classes, args.stage)
    stage = run.stages[args.stage]
    done = sum(s.epochs for s in run.stages[:args.stage])
    variant.hooks(run.model, Progress(args.stage, len(run.stages), done, sum(s.epochs for s in run.stages), 0,
                                      stage.epochs))
    run.model.train()
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
        return run.step(*next_batches())

    meta = {"variant": variant.name, "space": run.space.name, "order": config.order, "stage": args.stage,
            "cells": stage.cells, "init_channels": config.init_channels, "layers": config.layers,
            "data": data_desc, "memory_format": "channels_last" if config.channels_last else "nchw",
            "mixed_op": "fast" if config.fast else "plain"}
    return Bench(step, config.batch_size, meta)


def _prune_before(run, index: int) -> None:
    """Rewrite the stages up to `index` as a search would carry its ops into them (pruned from fixed
    random weights: the timing depends on how many ops survive, not on which)."""
    import numpy as np

    gen = np.random.default_rng(0)
    for i in range(index):
        weights = {kind: gen.random((len(run.space.edges), len(run.primitives))) for kind in run.space.cell_kinds}
        run.stages[i + 1] = run.variant.between_stages(weights, run.stages[i], run.stages[i + 1], run.space,
                                                       run.primitives)


def _train_config(args: argparse.Namespace):
    from fairdarts_core.sizes import config_from
    from fairdarts_core.train import TrainConfig

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
    from fairdarts_core.train import build_model, train_step

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
            return train_step(net, optimizer, x, y, config, params)[0]
        return step

    step = _with_compile_check(make(runner), make(model), meta, runner is not model)
    return Bench(step, config.batch_size, meta)


def setup_infer(args: argparse.Namespace, device: torch.device) -> Bench:
    from fairdarts_core import PUBLISHED_GENOTYPES, load_genotype
    from fairdarts_core.data import NO_AUGMENT, Batches
    from fairdarts_core.inference import fold_batchnorm, predict
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


