"""The studies, by name, and the driver that runs one on Ray Tune and writes results/<name>/."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from types import ModuleType

from . import ablation, collapse, comparison, stability

EXPERIMENTS: dict[str, ModuleType] = {
    "stability": stability,
    "ablation": ablation,
    "comparison": comparison,
    "collapse": collapse,
}


def get_experiment(name: str) -> ModuleType:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}") from None


def _progress_callback():
    from ray.tune import Callback

    from ..spec import flat_config, trial_key

    class Progress(Callback):
        """One line per epoch and per finished trial, instead of Ray's status tables."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            cfg = flat_config(trial.config)
            name = f"[{cfg['setting']['label']} | seed {cfg['seed']}]"
            stage = result.get("stage")
            if stage in ("search", "train"):
                epoch = int(result.get(f"{stage}/epoch", 0)) + 1
                acc = result.get(f"{stage}/val_acc" if stage == "search" else f"{stage}/test_acc")
                extra = ""
                if stage == "search":
                    extra = f"  skips {result.get('search/skip_normal')}  gap {result.get('search/disc_gap', 0):.1f}"
                print(f"{name} {stage} epoch {epoch}: acc {acc:.2f}{extra}  "
                      f"{result.get(f'{stage}/seconds', 0):.1f}s", flush=True)
            elif stage == "done":
                print(f"{name} done: test acc {result.get('test_acc', float('nan')):.2f}  "
                      f"{result.get('flops_m', float('nan')):.0f}M FLOPs", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            cfg = flat_config(trial.config)
            print(f"[{cfg['setting']['label']} | seed {cfg['seed']}] FAILED (see {cfg['work_root']}/"
                  f"{trial_key(cfg)}/error.txt)", flush=True)

    return Progress()


def run_experiment(args: argparse.Namespace) -> int:
    """Run (or resume) an experiment on Ray Tune, then write its files and print the table."""
    from fairdarts_core.data import load_dataset

    from ..report import collect, report, write_manifest

    module = get_experiment(args.name)
    experiment = module.build(args.preset, seeds=args.seeds, stability_dir=getattr(args, "stability_dir", None))
    out = Path(args.out or Path("results") / args.name)
    if (out / "manifest.json").exists() and not args.resume:
        raise ValueError(f"{out} already holds results; pass --resume to continue or choose another --out")
    if args.cpus_per_trial <= 0 or args.gpus_per_trial < 0:
        raise ValueError("--cpus-per-trial must be > 0 and --gpus-per-trial >= 0")
    load_dataset(args.dataset, args.data_dir, args.download)  # a bad data dir fails here, before Ray starts
    out.mkdir(parents=True, exist_ok=True)
    storage = Path(args.storage or out / "ray").resolve()
    work_root = (out / "work").resolve()
    common = {"work_root": str(work_root), "dataset": args.dataset, "data_dir": args.data_dir,
              "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
              "fail_label": getattr(args, "fail_label", None)}
    trials = experiment.trial_configs()
    print(f"experiment {args.name} ({experiment.title}), preset {args.preset}: {len(experiment.settings)} "
          f"setting(s) x {len(experiment.seeds)} seed(s) = {len(trials)} trials; results in {out}", flush=True)
    began = time.time()
    errors = _run_tune(args, experiment, common, storage)
    collect(out, experiment, work_root, errors)
    write_manifest(out, args, experiment, wall_seconds=time.time() - began)
    table_path = report(out)[0]
    print()
    print(table_path.read_text(encoding="utf-8"))
    return 0


def _run_config(name: str, storage: Path):
    from ray import tune

    return tune.RunConfig(name=name, storage_path=str(storage), verbose=0, callbacks=[_progress_callback()],
                          failure_config=tune.FailureConfig(max_failures=0))


def _errors(grid) -> dict[str, str]:
    """{trial key: last line of its error} for the failed trials of a ResultGrid."""
    from ..spec import trial_key

    return {trial_key(r.config): str(r.error).strip().splitlines()[-1][:300] for r in grid if r.error is not None}


def _run_tune(args: argparse.Namespace, experiment, common: dict, storage: Path) -> dict[str, str]:
    """Fit (or restore) the Tuner; return {trial key: error} for failed trials."""
    import ray
    from ray import tune

    from ..spec import trial_key
    from ..trials import tune_trainable

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    init = {"include_dashboard": False, "log_to_driver": False, "configure_logging": True,
            "logging_level": "ERROR"}
    if args.address:
        ray.init(address=args.address, **init)
    else:
        ray.init(num_cpus=args.num_cpus or os.cpu_count(), num_gpus=None if args.gpus_per_trial else 0,
                 object_store_memory=200 * 1024 * 1024, **init)
    try:
        trainable = tune.with_resources(tune_trainable, {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
        path = storage / experiment.name
        if args.resume and tune.Tuner.can_restore(str(path)):
            print(f"resuming {path}: finished trials are kept, the rest run again from their checkpoints",
                  flush=True)
            tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(trainable, param_space=experiment.param_space(common),
                               run_config=_run_config(experiment.name, storage))
        errors = _errors(tuner.fit())
        # Trials Ray counts as finished but whose work folder lost its result (deleted, or a folder
        # moved between machines) run again in a fresh Tuner; finished ones are never repeated.
        work_root = Path(common["work_root"])
        lost = [c for c in experiment.trial_configs()
                if not (work_root / trial_key(c) / "result.json").is_file() and trial_key(c) not in errors]
        if lost:
            print(f"{len(lost)} trial(s) without results: running them again", flush=True)
            tuner = tune.Tuner(trainable, param_space=experiment.param_space(common, lost),
                               run_config=_run_config(f"{experiment.name}-rerun-{int(time.time())}", storage))
            errors.update(_errors(tuner.fit()))
        return errors
    finally:
        ray.shutdown()


__all__ = ["EXPERIMENTS", "get_experiment", "run_experiment"]
