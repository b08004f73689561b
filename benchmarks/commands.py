"""The darts-bench subcommands: thin glue between parsed arguments and the library."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def _genotype(spec: str):
    from fairdarts_core import PUBLISHED_GENOTYPES, load_genotype

    return load_genotype(spec, PUBLISHED_GENOTYPES)


def _device(name: str):
    from fairdarts_core.checkpoint import resolve_device

    return resolve_device(name)


def _data(args: argparse.Namespace):
    from fairdarts_core.data import load_dataset

    return load_dataset(args.dataset, args.data_dir, args.download)


def _say(line: str) -> None:
    print(line, flush=True)


def cmd_genotypes(args: argparse.Namespace) -> int:
    import pandas as pd

    from fairdarts_core import PUBLISHED_GENOTYPES, profile_genotype

    rows = []
    for name, g in PUBLISHED_GENOTYPES.items():
        prof = profile_genotype(g)
        rows.append({"name": name, "style": g.style, "flops_m": round(prof["flops_m"], 1),
                     "params_m": round(prof["params_m"], 3), "params_with_aux_m": round(prof["params_with_aux_m"], 3),
                     "skips_normal": g.skip_count("normal")})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("C=36, 20 cells, one 3x32x32 image; FLOPs = thop multiply-adds, BatchNorm removed")
        print(pd.DataFrame(rows).to_string(index=False))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from fairdarts_core import profile_genotype

    prof = profile_genotype(_genotype(args.genotype), args.init_channels, args.layers, args.num_classes)
    if args.json:
        print(json.dumps(prof))
    else:
        print(f"{args.genotype}: {prof['flops_m']:.1f}M FLOPs (thop MACs, BN removed), "
              f"{prof['params_m']:.3f}M params ({prof['params_with_aux_m']:.3f}M with the auxiliary head), "
              f"C={args.init_channels}, {args.layers} cells")
    return 0


def load_weights(path: str | Path, primitives: str | None) -> tuple[Any, Any, tuple[str, ...]]:
    """Activated weights from a JSON file or a folder of the official normal_weight.npy / reduce_weight.npy."""
    from fairdarts_core.space import PRIMITIVES

    path = Path(path)
    prims = tuple(primitives.split(",")) if primitives else None
    if path.is_dir():
        files = [path / "normal_weight.npy", path / "reduce_weight.npy"]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"weights folder lacks {', '.join(missing)}")
        try:
            normal, reduce = (np.load(f, allow_pickle=False) for f in files)
        except ValueError as err:
            raise ValueError(f"cannot read the .npy weights in {path}: {err}") from None
        return normal, reduce, prims or PRIMITIVES
    if not path.is_file():
        raise FileNotFoundError(f"weights {path} is neither a JSON file nor a folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"weights file {path} is not valid JSON ({err})") from None
    if not isinstance(data, dict) or "normal" not in data or "reduce" not in data:
        raise ValueError(f"weights file {path} must hold an object with 'normal' and 'reduce' matrices")
    return data["normal"], data["reduce"], prims or tuple(data.get("primitives") or PRIMITIVES)


def cmd_parse(args: argparse.Namespace) -> int:
    from fairdarts_core import parse_genotype

    normal, reduce, prims = load_weights(args.weights, args.primitives)
    g = parse_genotype(normal, reduce, args.method, args.threshold, prims)
    print(g.to_json() if args.json else g.to_string())
    return 0


VARIANT_FLAGS = ("parse_method", "threshold", "zero_one_weight", "zero_one_form", "use_softmax", "with_none",
                 "noise_type", "noise_mix", "noise_mean", "noise_scale", "noise_start", "noise_t_max",
                 "noise_schedule", "noise_lambda", "skips", "flops_floor_m", "count")
SEARCH_FLAGS = ("epochs", "batch_size", "learning_rate", "learning_rate_min", "arch_learning_rate",
                "init_channels", "layers", "train_limit", "order", "single_level", "hessian_every")


def cmd_search(args: argparse.Namespace) -> int:
    from fairdarts_core.search import search_config
    from variants import make_variant

    from .pipeline import SEARCH_PROGRESS, format_epoch, prepare_out_dir, run_search, write_json

    options = {k: getattr(args, k) for k in VARIANT_FLAGS if getattr(args, k) is not None}
    variant = make_variant(args.variant, **options)
    device = _device(args.device)
    if not variant.searches:
        out = prepare_out_dir(args.out, args.resume)
        genotypes = variant.sample(args.seed)
        with (out / "genotypes.jsonl").open("w", encoding="utf-8") as fh:
            for g in genotypes:
                fh.write(g.to_json() + "\n")
        write_json(out / "genotype.json", genotypes[0].to_dict())
        for i, g in enumerate(genotypes):
            _say(f"random architecture {i}: {g.to_string()}")
        _say(f"wrote {len(genotypes)} genotypes to {out / 'genotypes.jsonl'}")
        return 0
    overrides = {k: getattr(args, k) for k in SEARCH_FLAGS}
    overrides["seed"] = args.seed
    if args.reference:
        overrides.update(fast=False, channels_last=False)
    config = search_config(args.preset, variant, overrides)
    train_set, _ = _data(args)
    _say(f"searching: {variant.name} {variant.options()} | preset {args.preset}, {config.epochs} epochs, "
         f"C={config.init_channels}, {config.layers} cells, batch {config.batch_size}, {train_set.name}, {device}")
    genotype = run_search(variant, train_set, config, args.out, device, args.resume,
                          on_epoch=lambda r: _say(format_epoch(r, config.epochs, SEARCH_PROGRESS)))
    _say(f"genotype: {genotype.to_string()}")
    _say(f"wrote {args.out}/genotype.json, alphas.json, history.csv, checkpoint.pt, figures/")
    return 0


TRAIN_FLAGS = ("epochs", "batch_size", "learning_rate", "init_channels", "layers", "drop_path_prob",
               "auxiliary_weight", "cutout", "autoaugment", "train_limit", "amp")


def cmd_train(args: argparse.Namespace) -> int:
    from fairdarts_core.train import TRAIN_PRESETS, config_from

    from .pipeline import TRAIN_PROGRESS, format_epoch, run_train

    genotype = _genotype(args.genotype)
    overrides = {k: getattr(args, k) for k in TRAIN_FLAGS}
    overrides["seed"] = args.seed
    if args.reference:
        overrides.update(fast=False, channels_last=False)
    config = config_from(TRAIN_PRESETS[args.preset], overrides)
    device = _device(args.device)
    train_set, test_set = _data(args)
    _say(f"training {args.genotype} | preset {args.preset}: {config.epochs} epochs, C={config.init_channels}, "
         f"{config.layers} cells, batch {config.batch_size}, lr {config.learning_rate}, {train_set.name}, {device}")
    result = run_train(genotype, train_set, test_set, config, args.out, device, args.resume,
                       on_epoch=lambda r: _say(format_epoch(r, config.epochs, TRAIN_PROGRESS)))
    _say(f"{args.genotype}: test accuracy {result['test_acc']:.2f}% on {test_set.name} after {config.epochs} "
         f"epochs (C={config.init_channels}, {config.layers} cells) | paper-scale network (C=36, 20 cells): "
         f"{result['flops_m']:.1f}M FLOPs, {result['params_m']:.3f}M params "
         f"({result['params_with_aux_m']:.3f}M with aux)")
    _say(f"wrote {args.out}/history.csv, result.json, checkpoint.pt")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from fairdarts_core.checkpoint import load_checkpoint
    from fairdarts_core.data import Batches
    from fairdarts_core.train import TrainConfig, build_model, evaluate

    genotype = _genotype(args.genotype)
    state = load_checkpoint(args.checkpoint, kind="train")
    if state.get("genotype") != genotype.to_json():
        raise ValueError(f"checkpoint {args.checkpoint} was trained from another genotype than {args.genotype}")
    config = TrainConfig(**state["config"])
    device = _device(args.device)
    _, test_set = _data(args)
    if config.test_limit:  # the same test images the training run scored
        test_set = test_set.subset(slice(0, config.test_limit))
    model = build_model(genotype, config, test_set.num_classes, device)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        raise ValueError(f"checkpoint {args.checkpoint} does not fit the network of {args.genotype}") from None
    loss, acc = evaluate(model, Batches(test_set, config.eval_batch_size, device, shuffle=False,
                                        channels_last=config.channels_last))
    out = {"test_loss": loss, "test_acc": acc, "epoch": int(state["epoch"]) + 1, "dataset": test_set.name}
    print(json.dumps(out) if args.json else f"{args.genotype}: test accuracy {acc:.2f}% (loss {loss:.4f}) on "
          f"{test_set.name} ({len(test_set)} images), checkpoint after epoch {out['epoch']}")
    return 0


def cmd_plot_cell(args: argparse.Namespace) -> int:
    from .plots import plot_cells

    if not args.out.lower().endswith(".png"):
        raise ValueError(f"--out must be a .png path, got {args.out}")
    path = plot_cells(_genotype(args.genotype), args.out, title=args.genotype)
    _say(f"wrote {path}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from .experiments import run_experiment

    return run_experiment(args)


def cmd_report(args: argparse.Namespace) -> int:
    from .report import report

    for path in report(args.dir):
        _say(f"wrote {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    return run_bench(args)
