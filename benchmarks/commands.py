"""The darts-bench subcommands: thin glue between parsed arguments and the library."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def _genotype(spec: str, space: str | None = None):
    """A genotype from a published name, a file or a string; checked against --space when given."""
    from fairdarts_core import PUBLISHED_GENOTYPES, load_genotype
    from fairdarts_core.spaces import get_space

    genotype = load_genotype(spec, PUBLISHED_GENOTYPES)
    if space is not None:
        get_space(space).check_genotype(genotype)
    return genotype


def _device(name: str):
    from fairdarts_core.checkpoint import resolve_device

    return resolve_device(name)


def _data(args: argparse.Namespace):
    from fairdarts_core.data import load_dataset

    return load_dataset(args.dataset, args.data_dir, args.download, getattr(args, "cache_dir", None))


def _nb201_table(args: argparse.Namespace):
    """The --nb201-table the command names (read once per process), or None."""
    from fairdarts_core.nb201_table import open_table

    return open_table(args.nb201_table) if getattr(args, "nb201_table", None) else None


def _say(line: str) -> None:
    print(line, flush=True)


def cmd_genotypes(args: argparse.Namespace) -> int:
    import pandas as pd

    from fairdarts_core import PUBLISHED_GENOTYPES
    from fairdarts_core.published import shipped_profiles

    shipped = shipped_profiles()  # read without torch; a genotype missing from it is profiled in its space
    rows = []
    for name, g in PUBLISHED_GENOTYPES.items():
        prof = shipped.get(g.to_json())
        if prof is None:
            from fairdarts_core.spaces import space_of

            prof = space_of(g).profile(g)
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
    from fairdarts_core.spaces import space_of

    genotype = _genotype(args.genotype, args.space)
    space = space_of(genotype)
    sizes = {k: v for k, v in (("init_channels", args.init_channels), ("layers", args.layers)) if v is not None}
    table = _nb201_table(args)
    truth = table.lookup(genotype) if table is not None else None  # a DARTS cell or a missing one: an error
    prof = space.profile(genotype, num_classes=args.num_classes, **sizes)
    if args.json:
        print(json.dumps(prof if truth is None else {**prof, "nb201": truth, "nb201_table": table.path}))
        return 0
    print(f"{args.genotype}: " + space.describe_profile(prof))
    if truth is not None:
        print(f"NAS-Bench-201 ({table.path}): " + ", ".join(f"{k} {v:g}" for k, v in truth.items()))
    return 0


def load_weights(path: str | Path, primitives: str | None) -> tuple[dict[str, Any], tuple[str, ...] | None, str | None]:
    """({cell kind: weights}, primitives or None, space or None) from a JSON file (a search's alphas.json:
    {"normal", "reduce"} or {"cell"}, "primitives", "space") or a folder of the official
    normal_weight.npy / reduce_weight.npy."""
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
        return {"normal": normal, "reduce": reduce}, prims, None
    if not path.is_file():
        raise FileNotFoundError(f"weights {path} is neither a JSON file nor a folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"weights file {path} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"weights file {path} must hold a JSON object")
    kinds = [k for k in ("normal", "reduce", "cell") if k in data]
    if not kinds:
        raise ValueError(f"weights file {path} must hold the matrices 'normal' and 'reduce' (or 'cell')")
    return {k: data[k] for k in kinds}, prims or (tuple(data["primitives"]) if data.get("primitives") else None), \
        data.get("space")


def cmd_parse(args: argparse.Namespace) -> int:
    from fairdarts_core.spaces import DEFAULT_SPACE, get_space

    if args.method == "perturbation":
        return _select(args)
    weights, prims, space_name = load_weights(args.weights, args.primitives)
    space = get_space(args.space or space_name or ("nb201" if "cell" in weights else DEFAULT_SPACE))
    g = space.parse(weights, args.method, args.threshold, prims or space.primitives)
    print(g.to_json() if args.json else g.to_string())
    return 0


def _select(args: argparse.Namespace) -> int:
    """parse RUN_DIR --method perturbation: DARTS-PT's selection on the search in RUN_DIR, on its dataset."""
    from fairdarts_core.data import load_dataset
    from fairdarts_core.perturbation import PTOptions

    from .options import collect
    from .pipeline import run_selection, search_folder_checkpoint

    run = Path(args.weights)
    search_folder_checkpoint(run)
    record = json.loads((run / "search.json").read_text()) if (run / "search.json").is_file() else {}
    recorded = str(record.get("dataset", "digits")).removesuffix("-train")  # the search's set, e.g. digits-train
    dataset = args.dataset or ("folder" if recorded not in ("digits", "cifar10", "cifar100") else recorded)
    train_set, _ = load_dataset(dataset, args.data_dir, args.download, args.cache_dir)
    options = PTOptions().with_options(**collect(args, args.pt_names))
    if args.out is not None:  # a full folder is refused before the work, not after
        from .pipeline import prepare_out_dir

        prepare_out_dir(args.out, False)

    def on_decision(d: dict[str, Any]) -> None:
        what = f"edge {d['src']}->{d['dst']}: {d['op']}" if d["kind"] == "op" else \
            f"node {d['node']}: inputs {', '.join(map(str, d['kept']))}"
        _say(f"decision {d['step'] + 1} ({d['cell']}, after {d['tuned_epochs']} tuning epochs) {what}")

    selection = run_selection(run, train_set, options, args.out, _device(args.device), on_decision)
    g = selection.genotype
    print(g.to_json() if args.json else g.to_string())
    _say(f"selection: {selection.seconds:.1f}s, proj_intv {selection.options['proj_intv']}"
         + (f"; wrote {args.out}/genotype.json, decisions.json, decisions.csv, tune_history.csv, selection.json"
            if args.out else ""))
    return 0


def _epoch_progress(epochs: int, shown: tuple[str, ...]):
    """(on_epoch, on_step) of a run's console display: a step bar within each epoch and, after each, a
    line with the record's `shown` values; the bar of epoch 1 starts now."""
    from .pipeline import format_epoch
    from .progress import StepProgress

    progress = StepProgress()

    def on_epoch(record: dict[str, Any]) -> None:
        progress.start(f"epoch {record['epoch'] + 2}/{epochs}")
        _say(format_epoch(record, epochs, shown))

    progress.start(f"epoch 1/{epochs}")
    return on_epoch, progress


def cmd_search(args: argparse.Namespace) -> int:
    from fairdarts_core.sizes import sizes_for
    from fairdarts_core.spaces import DEFAULT_SPACE, SELECTION_METHODS, get_space
    from fairdarts_core.variant import Sampler
    from variants import METHODS, make_method

    from .options import as_flags, collect, method_options, regularizer_options
    from .pipeline import (
        GROUND_TRUTH,
        SEARCH_PROGRESS,
        check_nb201_table,
        prepare_out_dir,
        run_search,
        selection_of,
        write_json,
    )

    sizes = sizes_for(args.preset, args.dataset)
    with as_flags(args.variant_names):
        method = make_method(args.variant, **method_options(args, args.variant_names, METHODS[args.variant]),
                             **regularizer_options(args, args.regularizer_names, METHODS[args.variant]))
    overrides = collect(args, args.search_names)
    device = _device(args.device)
    if isinstance(method, Sampler):
        space = get_space(overrides.get("space", DEFAULT_SPACE))
        out = prepare_out_dir(args.out, args.resume)
        genotypes = method.sample(overrides.get("seed", 0), space)
        with (out / "genotypes.jsonl").open("w", encoding="utf-8") as fh:
            for g in genotypes:
                fh.write(g.to_json() + "\n")
        write_json(out / "genotype.json", genotypes[0].to_dict())
        for i, g in enumerate(genotypes):
            _say(f"random architecture {i}: {g.to_string()}")
        _say(f"wrote {len(genotypes)} genotypes to {out / 'genotypes.jsonl'}")
        return 0
    if args.reference:
        overrides.update(fast=False, channels_last=False)
    with as_flags(args.search_names):
        config = sizes.search_config(method, overrides)
    table = _nb201_table(args)
    check_nb201_table(table, config.space)
    train_set, _ = _data(args)
    _say(f"searching: {method.describe()} | space {config.space}, preset {args.preset}, {config.epochs} epochs, "
         f"C={config.init_channels}, {config.layers} cells, batch {config.batch_size}, {train_set.name}, {device}")
    shown = SEARCH_PROGRESS + (tuple(GROUND_TRUTH) if table is not None else ())
    on_epoch, on_step = _epoch_progress(config.epochs, shown)
    genotype = run_search(method, train_set, config, args.out, device, args.resume, on_epoch=on_epoch,
                          on_step=on_step, nb201_table=table).genotype
    _say(f"genotype: {genotype.to_string()}")
    space = get_space(config.space)
    if method.resolved_parse(space) in SELECTION_METHODS:  # fixed_alpha: the cell comes from the selection
        _say(f"that is the {space.parse_methods[0]} parse standing in; DARTS-PT's {method.resolved_parse(space)} "
             f"selection runs on the search's checkpoint now (written to {args.out}/selection)")
        genotype, seconds = selection_of(args.out, Path(args.out) / "selection", train_set, device)
        _say(f"selected genotype ({seconds:.0f} s): {genotype.to_string()}")
    if table is not None:
        truth = table.lookup(genotype)
        _say("NAS-Bench-201: " + ", ".join(f"{k} {v:g}" for k, v in truth.items()))
    _say(f"wrote {args.out}/genotype.json, alphas.json, history.csv, checkpoint.pt, figures/")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from fairdarts_core.sizes import sizes_for
    from fairdarts_core.spaces import space_of

    from .options import as_flags, collect
    from .pipeline import TRAIN_PROGRESS, run_train

    sizes = sizes_for(args.preset, args.dataset)
    genotype = _genotype(args.genotype, args.space)
    space = space_of(genotype)
    overrides = collect(args, args.train_names)
    if args.reference:
        overrides.update(fast=False, channels_last=False)
    device = _device(args.device)
    if overrides.get("amp") and device.type != "cuda":
        _say(f"note: --amp applies on CUDA only; training in fp32 on {device}")
        overrides["amp"] = False
    with as_flags(args.train_names):
        config = sizes.train_config(space.name, overrides)
    train_set, test_set = _data(args)
    _say(f"training {args.genotype} | preset {args.preset}: {config.epochs} epochs, C={config.init_channels}, "
         f"{config.layers} cells, batch {config.batch_size}, lr {config.learning_rate}, {train_set.name}, {device}")
    on_epoch, on_step = _epoch_progress(config.epochs, TRAIN_PROGRESS)
    result = run_train(genotype, train_set, test_set, config, args.out, device, args.resume, on_epoch=on_epoch,
                       on_step=on_step)
    _say(f"{args.genotype}: test accuracy {result['test_acc']:.2f}% on {test_set.name} after {config.epochs} "
         f"epochs (C={config.init_channels}, {config.layers} cells) | paper-scale network: "
         + space.describe_profile(result))
    _say(f"wrote {args.out}/history.csv, result.json, checkpoint.pt")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from fairdarts_core.checkpoint import load_checkpoint
    from fairdarts_core.data import Batches
    from fairdarts_core.official_checkpoint import (
        LAYOUTS,
        PAPER_NETWORK,
        OfficialCheckpointError,
        checkpoint_epoch,
        has_auxiliary_head,
        load_official,
        official_state_dict,
        read_checkpoint,
    )
    from fairdarts_core.train import TrainConfig, build_model, evaluate

    genotype = _genotype(args.genotype)
    payload = read_checkpoint(args.checkpoint)  # weights_only; a pickle that needs code is refused
    official = official_state_dict(payload, args.checkpoint)
    if official is not None:
        # The official evaluation: the paper network (C=36, 20 cells; the auxiliary head built when the
        # checkpoint has one, so that its weights load), BatchNorm in eval mode, batches of 256.
        config = TrainConfig(init_channels=PAPER_NETWORK["init_channels"], layers=PAPER_NETWORK["layers"],
                             auxiliary_weight=0.4 if has_auxiliary_head(official) else 0.0)
        device = _device(args.device)
        _, test_set = _data(args)
        model = build_model(genotype, config, test_set.num_classes, device)
        try:
            loaded = load_official(model, official, genotype)
        except OfficialCheckpointError as err:
            raise OfficialCheckpointError(f"checkpoint {args.checkpoint}: {err}") from None
        loss, acc = evaluate(model, Batches(test_set, config.eval_batch_size, device, shuffle=False,
                                            channels_last=config.channels_last))
        epoch = checkpoint_epoch(payload)
        out = {"test_loss": loss, "test_acc": acc, "epoch": epoch, "dataset": test_set.name, "official": True,
               "layout": LAYOUTS[loaded.layout], "unused_keys": len(loaded.unused)}
        note = f", after epoch {epoch}" if epoch is not None else ""
        if loaded.unused:
            note += f"; {len(loaded.unused)} weights of edges from ignored nodes unused, as in the official code"
        print(json.dumps(out) if args.json else f"{args.genotype}: test accuracy {acc:.2f}% (loss {loss:.4f}) on "
              f"{test_set.name} ({len(test_set)} images), official checkpoint ({LAYOUTS[loaded.layout]} names{note})")
        return 0
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
    amp = config.amp and device.type == "cuda"  # the precision it was trained in, where it applies
    loss, acc = evaluate(model, Batches(test_set, config.eval_batch_size, device, shuffle=False,
                                        channels_last=config.channels_last), amp=amp, fast=config.fast)
    out = {"test_loss": loss, "test_acc": acc, "epoch": int(state["epoch"]) + 1, "dataset": test_set.name}
    print(json.dumps(out) if args.json else f"{args.genotype}: test accuracy {acc:.2f}% (loss {loss:.4f}) on "
          f"{test_set.name} ({len(test_set)} images), checkpoint after epoch {out['epoch']}")
    return 0


def cmd_plot_cell(args: argparse.Namespace) -> int:
    from .plots import plot_cells

    if not args.out.lower().endswith(".png"):
        raise ValueError(f"--out must be a .png path, got {args.out}")
    path = plot_cells(_genotype(args.genotype, args.space), args.out, title=args.genotype)
    _say(f"wrote {path}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from .driver import run_experiment

    return run_experiment(args)


def cmd_report(args: argparse.Namespace) -> int:
    from .report import report

    for path in report(args.dir, nb201_table=args.nb201_table):
        _say(f"wrote {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .perf.bench import run_bench

    return run_bench(args)


def cmd_perf(args: argparse.Namespace) -> int:
    from .perf.cpu_perf import run

    run(Path(args.out), args.pairs, [label.strip() for label in args.only.split(",")] if args.only else None)
    return 0
