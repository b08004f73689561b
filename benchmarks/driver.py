"""The Ray driver: runs any experiment spec on Ray Tune (or resumes it), then writes its folder.

`run_experiment(args)` is the CLI's entry; `run(experiment, out, options)` takes an Experiment object,
so tests and scripts can run a spec of their own. Trials are grid points over (setting, seed); each
trial's work lives in OUT/work/<setting>__seed<N> (`benchmarks.trials`), Ray's state and each
trial's reported curves (Tune's CSV, JSON and TensorBoard loggers) in OUT/ray.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import Experiment, flat_config, trial_key

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes


@dataclass(frozen=True)
class RunOptions:
    """How to run a study (not what: that is the Experiment)."""

    dataset: str = "digits"
    data_dir: str | None = None
    cache_dir: str | None = None  # where a folder dataset's decoded images are cached
    nb201_table: str | None = None  # NB201 ground truth (a CSV or NATS-Bench file) for the study's NB201 cells
    resume: bool = False
    address: str | None = None  # an existing Ray cluster; None: a local Ray
    storage: str | None = None  # Ray storage every node sees; None: OUT/ray
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    num_cpus: int | None = None  # CPUs of a local Ray; None: all
    num_gpus: int = 0  # GPUs of a local Ray
    command: str = ""  # for the manifest


def resolve_gpus(device: str, gpus_per_trial: float | None, sizes: Sizes) -> tuple[float, int]:
    """(GPUs per trial, GPUs of a local Ray) for --device and --gpus-per-trial (None: the preset's): the GPU
    when there is one (auto), none with --device cpu; a GPU asked for where CUDA is absent is an error."""
    import torch

    from fairdarts_core.checkpoint import resolve_device

    if gpus_per_trial is not None and gpus_per_trial < 0:
        raise ValueError("--gpus-per-trial must be >= 0")
    kind = resolve_device(device).type  # cuda without a GPU: a ValueError here
    if kind == "cpu":
        if gpus_per_trial:
            raise ValueError(f"--gpus-per-trial {gpus_per_trial} asks for GPUs, but the device is the CPU "
                             f"({'--device cpu' if device == 'cpu' else 'no CUDA GPU is available'})")
        return 0.0, 0
    per_trial = sizes.gpus_per_trial if gpus_per_trial is None else gpus_per_trial
    return per_trial, torch.cuda.device_count()


def run_experiment(args: argparse.Namespace) -> int:
    """darts-bench experiment: build the named study, run it, print its table."""
    import shlex
    import sys

    from fairdarts_core.data import load_dataset
    from fairdarts_core.nb201_table import open_table
    from fairdarts_core.sizes import sizes_for

    from .experiments import EXPERIMENTS, build_study
    from .report import time_use_line

    study, sizes = EXPERIMENTS.get(args.name), sizes_for(args.preset, args.dataset)
    experiment = build_study(study, sizes, args.seeds, stability_dir=getattr(args, "stability_dir", None),
                             dataset=args.dataset)
    if args.cpus_per_trial <= 0:
        raise ValueError("--cpus-per-trial must be > 0")
    gpus_per_trial, num_gpus = resolve_gpus(args.device, args.gpus_per_trial, sizes)
    # A bad data dir or table fails here, before Ray starts; a folder dataset is decoded into its cache once.
    load_dataset(args.dataset, args.data_dir, args.download, args.cache_dir)
    table = str(open_table(args.nb201_table).path) if args.nb201_table else None
    if table is None and study.NEEDS_NB201_TABLE:
        raise ValueError(f"experiment {args.name} looks its cells up in NAS-Bench-201: pass --nb201-table FILE")
    options = RunOptions(dataset=args.dataset, data_dir=_absolute(args.data_dir), cache_dir=_absolute(args.cache_dir),
                         nb201_table=table, resume=args.resume, address=args.address,
                         storage=args.storage, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=gpus_per_trial,
                         num_cpus=args.num_cpus, num_gpus=num_gpus,
                         command=shlex.join(["darts-bench", *getattr(args, "argv", sys.argv[1:])]))
    out = Path(args.out or Path("results") / args.name)
    table = run(experiment, out, options)
    print()
    print(table)
    manifest = json.loads((out / "manifest.json").read_text())
    print(time_use_line(manifest["wall_seconds"], manifest.get("time_use", {})))
    return 0


def _absolute(path: str | None) -> str | None:
    """A path the Ray workers (other working folders) resolve the same way."""
    return str(Path(path).resolve()) if path else None


def run(experiment: Experiment, out: Path, options: RunOptions) -> str:
    """Run (or resume) `experiment` into `out`; write its files; return its table in Markdown."""
    from fairdarts_core.nb201_table import open_table

    from .report import collect, report, write_benchmark, write_manifest

    if out.is_dir() and any(out.iterdir()) and not options.resume:  # finished, interrupted or still running
        raise ValueError(f"{out} already holds files of a study; pass --resume to continue it or choose another "
                         f"--out")
    experiment.check()  # unknown variants, options, spaces, parse methods: before anything runs
    out.mkdir(parents=True, exist_ok=True)
    storage = Path(options.storage or out / "ray").resolve()
    work_root = (out / "work").resolve()
    common = {"work_root": str(work_root), "dataset": options.dataset, "data_dir": options.data_dir,
              "cache_dir": options.cache_dir, "nb201_table": options.nb201_table,
              "cpus_per_trial": options.cpus_per_trial, "gpus_per_trial": options.gpus_per_trial}
    trials = experiment.trial_configs()
    common["trials"] = len(trials)
    rows = sum(len(s.parse_labels()) * len(experiment.seeds_of(s)) for s in experiment.settings)
    own = ", ".join(f"{s.label} {len(s.seeds)}" for s in experiment.settings if s.seeds)
    print(f"experiment {experiment.name} ({experiment.title}), preset {experiment.sizes.name}: "
          f"{len(experiment.settings)} setting(s) x {len(experiment.seeds)} seed(s)"
          f"{f' (seeds of their own: {own})' if own else ''} = {len(trials)} trials "
          f"({rows} result rows); {options.gpus_per_trial:g} GPU(s) per trial; results in {out}", flush=True)
    began = time.time()
    errors = _run_tune(experiment, options, common, storage)
    collect(out, experiment, work_root, errors)
    if options.nb201_table:
        write_benchmark(out, open_table(options.nb201_table))
    write_manifest(out, options, experiment, wall_seconds=time.time() - began)
    return report(out)[0].read_text(encoding="utf-8")


def _progress_callback():
    from ray.tune import Callback

    class Progress(Callback):
        """One line per epoch and per finished trial, instead of Ray's status tables."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            cfg = flat_config(trial.config)
            name = f"[{cfg['setting']['label']} | seed {cfg['seed']}]"
            stage = result.get("stage")
            if stage in ("search", "train"):
                epoch = int(result.get(f"{stage}/epoch", 0)) + 1
                acc = result.get(f"{stage}/val_acc" if stage == "search" else f"{stage}/test_acc", float("nan"))
                extra = ""
                if stage == "search":
                    extra = f"  skips {result.get('search/skip_normal')}  gap {result.get('search/disc_gap', 0):.1f}"
                    if "search/nb201_cifar10_test" in result:
                        extra += f"  NB201 test {result['search/nb201_cifar10_test']:.2f}"
                print(f"{name} {stage} epoch {epoch}: acc {acc:.2f}{extra}  "
                      f"{result.get(f'{stage}/seconds', 0):.1f}s", flush=True)
            elif stage == "done":
                print(f"{name} done: {result.get('ok', 0)} of {result.get('rows', 0)} row(s) ok", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            cfg = flat_config(trial.config)
            print(f"[{cfg['setting']['label']} | seed {cfg['seed']}] FAILED (see {cfg['work_root']}/"
                  f"{trial_key(cfg)}/error.txt)", flush=True)

    return Progress()


def _run_config(name: str, storage: Path):
    from ray import tune

    return tune.RunConfig(name=name, storage_path=str(storage), verbose=0, callbacks=[_progress_callback()],
                          failure_config=tune.FailureConfig(max_failures=0))


def _tune_config():
    """One worker process per trial slot, kept from trial to trial (a new one costs seconds of imports and
    start-up per trial); a trial depends on nothing its process held before (it seeds and sizes itself)."""
    from ray import tune

    return tune.TuneConfig(reuse_actors=True)


def _errors(grid) -> dict[str, str]:
    """{trial key: last line of its error} for the failed trials of a ResultGrid."""
    return {trial_key(r.config): str(r.error).strip().splitlines()[-1][:300] for r in grid if r.error is not None}


def _run_tune(experiment: Experiment, options: RunOptions, common: dict[str, Any], storage: Path) -> dict[str, str]:
    """Fit (or restore) the Tuner; return {trial key: error} for failed trials."""
    import ray
    from ray import tune

    from .trials import tune_trainable

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Tune's default loggers stay on: each trial's folder under the storage holds its reported curves
    # (progress.csv, result.json, TensorBoard events), so `tensorboard --logdir OUT/ray` shows them all.
    init = {"include_dashboard": False, "log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    if options.address:
        ray.init(address=options.address, **init)
    else:
        # address="local": a new local Ray, never one that `ray start` left running on this machine.
        ray.init(address="local", num_cpus=options.num_cpus or os.cpu_count(), num_gpus=options.num_gpus,
                 object_store_memory=200 * 1024 * 1024, **init)
    try:
        trainable = tune.with_resources(tune_trainable, {"cpu": options.cpus_per_trial,
                                                         "gpu": options.gpus_per_trial})
        path = storage / experiment.name
        if options.resume and tune.Tuner.can_restore(str(path)):
            print(f"resuming {path}: finished trials are kept, the rest continue from their files", flush=True)
            tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(trainable, param_space=experiment.param_space(common), tune_config=_tune_config(),
                               run_config=_run_config(experiment.name, storage))
        errors = _errors(tuner.fit())
        # Trials Ray counts as finished but whose work folder lost its result (deleted, or a folder
        # moved between machines) run again in a fresh Tuner; finished ones are never repeated.
        work_root = Path(common["work_root"])
        lost = [c for c in experiment.trial_configs()
                if not (work_root / trial_key(c) / "result.json").is_file() and trial_key(c) not in errors]
        if lost:
            print(f"{len(lost)} trial(s) without results: running them again", flush=True)
            tuner = tune.Tuner(trainable, param_space=experiment.param_space(common, lost), tune_config=_tune_config(),
                               run_config=_run_config(f"{experiment.name}-rerun-{int(time.time())}", storage))
            errors.update(_errors(tuner.fit()))
        return errors
    finally:
        ray.shutdown()
