"""One trial = search -> parse -> profile -> train -> evaluate (the part its setting needs).

`run_pipeline` is plain Python over a work folder, so a re-run resumes every stage from its
files; `tune_trainable` is the only code that calls `tune.report`.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from fairdarts_core import PUBLISHED_GENOTYPES, Genotype, load_genotype, profile_genotype
from fairdarts_core.data import load_dataset
from fairdarts_core.search import search_config
from fairdarts_core.train import TRAIN_PRESETS, config_from

from .pipeline import run_search, run_train, write_json
from .spec import flat_config, trial_key

Report = Callable[[dict[str, Any]], None]
NUMERIC = (int, float)


def _metrics(stage: str, record: dict[str, Any]) -> dict[str, Any]:
    """The flat numeric part of an epoch record, tagged with its stage; NaN losses raise."""
    for key in ("train_loss", "val_loss"):
        value = record.get(key)
        if isinstance(value, float) and math.isnan(value) and key == "train_loss":
            raise FloatingPointError(f"{stage}: NaN {key} at epoch {record['epoch']}")
    out = {f"{stage}/{k}": v for k, v in record.items() if isinstance(v, NUMERIC) and not isinstance(v, bool)}
    out["stage"] = stage
    return out


def _genotype_of(setting: dict[str, Any]) -> Genotype:
    spec = setting["genotype"]
    if spec in PUBLISHED_GENOTYPES:
        return PUBLISHED_GENOTYPES[spec]
    if spec.lstrip().startswith("{"):
        return Genotype.from_json(spec)
    return load_genotype(spec, PUBLISHED_GENOTYPES)


def run_pipeline(config: dict[str, Any], work: Path, report: Report | None = None,
                 device: torch.device | str = "cpu") -> dict[str, Any]:
    """Run (or resume) one trial in `work`; return and write its result.json."""
    from variants import make_variant

    report = report or (lambda metrics: None)
    work.mkdir(parents=True, exist_ok=True)
    done = work / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    setting, seed = config["setting"], config["seed"]
    train_set, test_set = load_dataset(config.get("dataset", "digits"), config.get("data_dir"))
    result: dict[str, Any] = {"label": setting["label"], "seed": seed, "variant": setting["variant"] or "",
                              "options": json.dumps(setting["options"], sort_keys=True)}
    began = time.time()
    if setting["variant"]:
        variant = make_variant(setting["variant"], **setting["options"])
        if variant.searches:
            cfg = search_config(config["search_preset"], variant, {**setting["search"], "seed": seed})
            genotype = run_search(variant, train_set, cfg, work / "search", device, resume=True,
                                  on_epoch=lambda r: report(_metrics("search", r)), figures=False)
            last = _last_row(work / "search" / "history.csv")
            for key in ("disc_gap", "near_01", "weight_entropy", "zero_one_loss", "skip_normal", "skip_reduce",
                        "val_acc", "acc_continuous", "acc_discrete"):
                result[f"search_{key}"] = float(last[key])
            result["final_weights"] = json.loads((work / "search" / "alphas.json").read_text())
            result["final_weights"] = {k: result["final_weights"][k] for k in ("normal", "reduce", "activation")}
        else:
            genotype = variant.with_options(count=1).sample(seed)[0]
    else:
        genotype = _genotype_of(setting)
    result["search_seconds"] = time.time() - began
    result["genotype"] = genotype.to_json()
    result["skips_normal"] = genotype.skip_count("normal")
    result["skips_reduce"] = genotype.skip_count("reduce")
    result.update(profile_genotype(genotype, num_classes=train_set.num_classes))
    report({"stage": "profile", **{f"profile/{k}": v for k, v in result.items() if k.endswith("_m")}})
    if setting["train"]:
        began = time.time()
        tcfg = config_from(TRAIN_PRESETS[config["train_preset"]], {**config.get("train_overrides", {}), "seed": seed})
        trained = run_train(genotype, train_set, test_set, tcfg, work / "train", device, resume=True,
                            on_epoch=lambda r: report(_metrics("train", r)))
        result.update(test_acc=trained["test_acc"], train_acc=trained["train_acc"], train_epochs=tcfg.epochs,
                      train_seconds=time.time() - began, train_batch_size=tcfg.batch_size,
                      train_lr=tcfg.learning_rate, train_drop_path=tcfg.drop_path_prob,
                      train_channels=tcfg.init_channels, train_layers=tcfg.layers)
    result["dataset"] = test_set.name
    result["status"] = "ok"
    write_json(done, result)
    report({"stage": "done", "done": 1, **{k: v for k, v in result.items() if isinstance(v, NUMERIC)}})
    return result


def _last_row(path: Path) -> dict[str, str]:
    import csv

    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows[-1]


def tune_trainable(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: runs the pipeline in the experiment's work folder."""
    from ray import tune

    config = flat_config(config)
    threads = max(1, int(config.get("cpus_per_trial", 1)))
    torch.set_num_threads(threads)
    work = Path(config["work_root"]) / trial_key(config)
    device = "cuda" if torch.cuda.is_available() and config.get("gpus_per_trial", 0) > 0 else "cpu"
    work.mkdir(parents=True, exist_ok=True)
    try:
        if config.get("fail_label") and config["setting"]["label"] == config["fail_label"]:
            raise RuntimeError(f"injected failure for setting {config['fail_label']!r} (fail_label)")
        run_pipeline(config, work, report=lambda m: tune.report(m), device=device)
    except Exception as err:
        (work / "error.txt").write_text(f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
        raise
