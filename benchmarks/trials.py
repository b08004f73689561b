"""One trial = one (setting, seed): search (or sample, or take a given genotype) -> every parse setting
on the final weights -> profile each genotype -> train each distinct genotype once -> result rows.

`run_trial` is plain Python over a work folder, so a re-run resumes every stage from its files: a
finished search is not run again, nor a finished training. `tune_trainable` is the only code that
calls `tune.report`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from fairdarts_core import PUBLISHED_GENOTYPES, Genotype, GenotypeError, load_genotype
from fairdarts_core.data import DIGITS, load_dataset
from fairdarts_core.nb201_table import NB201Table, lookup_columns, open_table
from fairdarts_core.sizes import sizes_for
from fairdarts_core.spaces import DEFAULT_SPACE, get_space, space_of
from fairdarts_core.variant import Sampler

from .pipeline import SearchResult, read_search_result, run_search, run_train, selection_of, write_json
from .spec import flat_config, trial_key

Report = Callable[[dict[str, Any]], None]
NUMERIC = (int, float)
SEARCH_SUMMARY = ("disc_gap", "near_01", "weight_entropy", "zero_one_loss", "val_acc", "acc_continuous",
                  "acc_discrete", "param_free_fraction", "hessian_eig")


def _metrics(stage: str, record: dict[str, Any]) -> dict[str, Any]:
    """The flat numeric part of an epoch record, tagged with its stage; a NaN training loss raises."""
    value = record.get("train_loss")
    if isinstance(value, float) and math.isnan(value):
        raise FloatingPointError(f"{stage}: NaN train_loss at epoch {record['epoch']}")
    out = {f"{stage}/{k}": v for k, v in record.items() if isinstance(v, NUMERIC) and not isinstance(v, bool)}
    out["stage"] = stage
    return out


def _given_genotype(spec: str) -> Genotype:
    if spec in PUBLISHED_GENOTYPES:
        return PUBLISHED_GENOTYPES[spec]
    if spec.lstrip().startswith("{"):
        return Genotype.from_json(spec)
    return load_genotype(spec, PUBLISHED_GENOTYPES)


def genotype_key(genotype: Genotype) -> str:
    """A short stable name for a genotype (its training folder)."""
    return hashlib.sha1(genotype.to_json().encode()).hexdigest()[:10]


def _searched(setting: dict[str, Any], config: dict[str, Any], seed: int, work: Path, train_set,
              device, report: Report, table: NB201Table | None = None
              ) -> tuple[dict[str, Genotype | Exception], SearchResult | None, float]:
    """Search (or sample, or take the given genotype); ({parse label: genotype or the error that parse
    raised}, the search's result (None without a search), seconds). A finished search is read back from
    its files, never run again. An NB201 search with a table records its ground truth per epoch."""
    from variants import make_method

    began = time.time()
    if not setting["variant"]:
        return {"": _given_genotype(setting["genotype"])}, None, 0.0
    method = make_method(setting["variant"], **setting["options"])
    space = get_space(setting["search"].get("space", DEFAULT_SPACE))
    if isinstance(method, Sampler):
        return {"": method.with_options(count=1).sample(seed, space)[0]}, None, time.time() - began
    parses = [(p["label"], p["method"], p["threshold"]) for p in setting["parses"]]
    out = work / "search"
    if (out / "alphas.json").is_file():
        result = read_search_result(out, [label for label, _, _ in parses])
    else:
        sizes = sizes_for(config["preset"], config.get("dataset", DIGITS))
        cfg = sizes.search_config(method, {**setting["search"], "seed": seed})
        result = run_search(method, train_set, cfg, out, device, resume=True, figures=False, parses=parses,
                            on_epoch=lambda r: report(_metrics("search", r)),
                            nb201_table=table if cfg.space == "nb201" else None)
    return dict(result.genotypes), result, result.wall_seconds


def _selection_labels(setting: dict[str, Any]) -> list[str]:
    """The parse labels whose genotype comes from DARTS-PT's selection: the parse settings of method
    perturbation, or the variant's own ("") when its parse resolves to perturbation."""
    from fairdarts_core.perturbation import METHOD
    from variants import make_method

    if not setting["variant"]:
        return []
    if setting["parses"]:
        return [p["label"] for p in setting["parses"] if p["method"] == METHOD]
    method = make_method(setting["variant"], **setting["options"])
    if isinstance(method, Sampler):
        return []
    space = get_space(setting["search"].get("space", DEFAULT_SPACE))
    return [""] if method.resolved_parse(space) == METHOD else []


def _search_summary(result: SearchResult | None) -> dict[str, float]:
    """The search's columns of every row: the last epoch's SEARCH_SUMMARY indicators and its seconds."""
    if result is None:
        return {}
    summary = {f"search_{key}": float(result.last[key]) for key in SEARCH_SUMMARY if key in result.last}
    summary["search_seconds"] = result.wall_seconds
    return summary


def run_trial(config: dict[str, Any], work: Path, report: Report | None = None,
              device: torch.device | str = "cpu") -> dict[str, Any]:
    """Run (or resume) one trial in `work`; return and write its result.json: {"rows": [...]}, one row
    per parse setting, each with its own status (a parse whose cell cannot be built is a failed row,
    not a failed search)."""
    report = report or (lambda metrics: None)
    work.mkdir(parents=True, exist_ok=True)
    done = work / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    began = time.time()
    setting, seed = config["setting"], config["seed"]
    train_set, test_set = load_dataset(config.get("dataset", DIGITS), config.get("data_dir"),
                                       cache_dir=config.get("cache_dir"))
    table = open_table(config["nb201_table"]) if config.get("nb201_table") else None
    genotypes, searched, search_seconds = _searched(setting, config, seed, work, train_set, device, report, table)
    summary = _search_summary(searched)
    selected = _selection_labels(setting)
    if searched is not None and selected:
        try:
            genotype, seconds = selection_of(work / "search", work / "selection", train_set, device)
            genotypes.update({label: genotype for label in selected})
        except (ValueError, RuntimeError) as err:  # the selection failed: its rows fail, the others stand
            genotypes.update({label: err for label in selected})
            seconds = math.nan
        summary["selection_seconds"] = seconds
    weights = searched.final_weights if searched is not None else None
    rows, trained = [], {}
    for parse_label, genotype in genotypes.items():
        row = {"label": setting["label"], "parse": parse_label, "seed": seed, "variant": setting["variant"] or "",
               "options": json.dumps(setting["options"], sort_keys=True), "space": setting["search"].get("space", ""),
               "search_seconds": search_seconds, **summary}
        rows.append(row)
        if isinstance(genotype, Exception):
            row.update(status="error", error=f"{type(genotype).__name__}: {genotype}")
            continue
        if parse_label:
            row.update({f"search_{k}": float(v) for k, v in _parse_columns(searched.last, parse_label).items()})
        space = space_of(genotype)
        row.update(genotype=genotype.to_json(), space=row["space"] or space.name,
                   skips_normal=genotype.skip_count(space.cell_kinds[0]),
                   skips_reduce=genotype.skip_count(space.cell_kinds[-1]))
        if table is not None and genotype.family == "nb201":
            row.update(lookup_columns(table, genotype))
        try:
            row.update(space.profile(genotype, num_classes=train_set.num_classes))
            if setting["train"]:
                key = genotype_key(genotype)
                if key in trained:
                    row["trained_as"] = trained[key]  # the same genotype as an earlier parse: one training
                else:
                    trained[key] = parse_label or setting["label"]
                    row.update(_train(genotype, config, seed, work / f"train_{key}", train_set, test_set, device,
                                      report))
        except (GenotypeError, ValueError) as err:  # a cell the parse left empty cannot be built
            row.update(status="error", error=f"{type(err).__name__}: {err}")
            continue
        row.update(status="ok", error="")
    for row in rows:
        if row.get("trained_as"):  # copy the shared training's numbers
            source = next(r for r in rows if (r["parse"] or r["label"]) == row["trained_as"])
            row.update({k: v for k, v in source.items()
                        if (k.startswith("train") and k != "trained_as") or k == "test_acc"})
            row["trained_as"] = source["parse"] or source["label"]
    for row in rows:  # the whole trial, this run of it: data, search, profiles, trainings, files
        row["trial_seconds"] = time.time() - began
    result = {"rows": rows, "weights": weights, "dataset": test_set.name}
    write_json(done, result)
    report({"stage": "done", "done": 1, "rows": len(rows), "ok": sum(r["status"] == "ok" for r in rows)})
    return result


def _train(genotype: Genotype, config: dict[str, Any], seed: int, out: Path, train_set, test_set, device,
           report: Report) -> dict[str, Any]:
    """Train a genotype in `out` (resumed from its checkpoint; a finished training is read back)."""
    sizes = sizes_for(config["preset"], config.get("dataset", DIGITS))
    tcfg = sizes.train_config(space_of(genotype).name, {**config.get("train_overrides", {}), "seed": seed})
    if (out / "result.json").is_file():
        trained = json.loads((out / "result.json").read_text())
    else:
        trained = run_train(genotype, train_set, test_set, tcfg, out, device, resume=True,
                            on_epoch=lambda r: report(_metrics("train", r)))
    return {"test_acc": trained["test_acc"], "train_acc": trained["train_acc"], "train_epochs": tcfg.epochs,
            "train_seconds": trained["wall_seconds"], "train_batch_size": tcfg.batch_size,
            "train_lr": tcfg.learning_rate, "train_drop_path": tcfg.drop_path_prob,
            "train_channels": tcfg.init_channels, "train_layers": tcfg.layers, "train_limit": tcfg.train_limit,
            "trained_as": ""}


def _parse_columns(last: dict[str, Any], label: str) -> dict[str, Any]:
    """The last epoch's indicators of the extra parse `label` (history columns KEY@LABEL)."""
    return {key: last[f"{key}@{label}"] for key in ("disc_gap", "acc_discrete", "param_free_fraction")
            if f"{key}@{label}" in last}


def trial_device(config: dict[str, Any]) -> str:
    """The trial's device: CUDA when the study gave it GPUs, which must then be visible (never a silent
    fall back to the CPU); else the CPU. A trial given a fraction of a GPU keeps to that share of its
    memory (Ray does not enforce it), so that packed trials fit together."""
    fraction = config.get("gpus_per_trial", 0)
    if fraction > 0:
        if not torch.cuda.is_available():
            raise RuntimeError(f"the trial was given {fraction} GPU(s) but sees no CUDA device "
                               f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
        if fraction < 1:
            torch.cuda.set_per_process_memory_fraction(fraction)
        return "cuda"
    return "cpu"


def tune_trainable(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: runs the trial in the experiment's work folder."""
    from ray import tune

    config = flat_config(config)
    # A fixed thread count: torch's CPU reductions round differently with more threads, and a resumed
    # trial must compute what the first run computed.
    torch.set_num_threads(max(1, int(config.get("cpus_per_trial", 1))))

    def report(metrics: dict[str, Any]) -> None:
        tune.report(metrics)

    work = Path(config["work_root"]) / trial_key(config)
    work.mkdir(parents=True, exist_ok=True)
    try:
        device = trial_device(config)
        run_trial(config, work, report=report, device=device)
    except Exception as err:
        (work / "error.txt").write_text(f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
        raise
