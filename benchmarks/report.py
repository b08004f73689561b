"""Experiment files: collect trial folders into trials.csv / epochs.csv / genotypes.jsonl, write the
manifest, and draw tables and figures from those files alone (`darts-bench report DIR`)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .pipeline import write_json
from .spec import Experiment, safe_name, trial_key

TRIAL_COLUMNS = ("label", "seed", "variant", "options", "status", "error", "flops_m", "params_m",
                 "params_with_aux_m", "test_acc", "train_acc", "skips_normal", "skips_reduce", "search_disc_gap",
                 "search_near_01", "dataset", "train_channels", "train_layers", "train_epochs", "train_batch_size",
                 "train_lr", "train_drop_path")


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def collect(out: Path, experiment: Experiment, work_root: Path, errors: dict[str, str]) -> None:
    """Write trials.csv, epochs.csv and genotypes.jsonl from the trials' work folders."""
    trials, epochs, genotypes = [], [], []
    for config in experiment.trial_configs():
        key = trial_key(config)
        work = work_root / key
        label, seed = config["setting"]["label"], config["seed"]
        result_path = work / "result.json"
        if result_path.is_file():
            row = json.loads(result_path.read_text())
            weights = row.pop("final_weights", None)
            genotypes.append({"label": label, "seed": seed, "status": "ok",
                              "genotype": json.loads(row["genotype"]), "weights": weights})
        else:
            error = errors.get(key)
            if error is None and (work / "error.txt").is_file():
                error = (work / "error.txt").read_text().splitlines()[0]
            row = {"label": label, "seed": seed, "variant": config["setting"]["variant"] or "",
                   "status": "error" if error else "missing", "error": error or "trial did not finish"}
            genotypes.append({"label": label, "seed": seed, "status": row["status"], "genotype": None})
        row.setdefault("error", "")
        trials.append(row)
        for stage in ("search", "train"):
            history = _read_csv(work / stage / "history.csv")
            if not history.empty:
                history = history.drop(columns=[c for c in ("genotype", "resumed") if c in history.columns])
                history.insert(0, "stage", stage)
                history.insert(0, "seed", seed)
                history.insert(0, "label", label)
                epochs.append(history)
    frame = pd.DataFrame(trials)
    ordered = list(TRIAL_COLUMNS) + [c for c in frame.columns if c not in TRIAL_COLUMNS]
    frame.reindex(columns=ordered).to_csv(out / "trials.csv", index=False)
    (pd.concat(epochs, ignore_index=True) if epochs else pd.DataFrame(columns=["label", "seed", "stage", "epoch"])) \
        .to_csv(out / "epochs.csv", index=False)
    with (out / "genotypes.jsonl").open("w", encoding="utf-8") as fh:
        for entry in genotypes:
            fh.write(json.dumps(entry) + "\n")


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "ray", "thop", "pandas", "numpy", "mlxtend"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def write_manifest(out: Path, args: Any, experiment: Experiment, wall_seconds: float) -> None:
    import torch

    previous = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else {}
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.gpus_per_trial else \
        f"cpu ({torch.get_num_threads()} threads max, {args.cpus_per_trial} CPU(s) per trial)"
    write_json(out / "manifest.json", {
        "experiment": experiment.name,
        "title": experiment.title,
        "command": "darts-bench " + " ".join(sys.argv[1:]) if sys.argv and "darts-bench" in sys.argv[0]
        else " ".join(sys.argv),
        "preset": args.preset,
        "dataset": args.dataset,
        "seeds": list(experiment.seeds),
        "settings": [s.label for s in experiment.settings],
        "git_sha": _git_sha(),
        "versions": _versions(),
        "device": device,
        "platform": platform.platform(),
        "wall_seconds": round(wall_seconds, 1),
        "runs": previous.get("runs", []) + [{"command": " ".join(sys.argv), "wall_seconds": round(wall_seconds, 1),
                                              "resume": bool(args.resume)}],
    })


def caption(manifest: dict[str, Any], trials: pd.DataFrame) -> str:
    ok = trials[trials["status"] == "ok"] if "status" in trials else trials
    parts = [f"{manifest['title']}, preset `{manifest['preset']}`"]
    if "dataset" in ok and len(ok):
        parts.append(f"accuracy on {ok['dataset'].iloc[0]}")
    if "train_channels" in ok and len(ok) and pd.notna(ok["train_channels"].iloc[0]):
        parts.append(f"trained network C={int(ok['train_channels'].iloc[0])}, {int(ok['train_layers'].iloc[0])} "
                     f"cells, {int(ok['train_epochs'].iloc[0])} epochs")
    parts.append("FLOPs (thop multiply-adds, BN removed) and Params of the paper-scale network (C=36, 20 cells, "
                 "one 3x32x32 image)")
    return "; ".join(parts) + "."


def report(out: str | Path) -> list[Path]:
    """Redraw table.csv, table.md and figures/ of an experiment folder from its files alone."""
    from .experiments import get_experiment

    out = Path(out)
    if not (out / "manifest.json").is_file():
        raise FileNotFoundError(f"{out} is not an experiment results folder (no manifest.json)")
    manifest = json.loads((out / "manifest.json").read_text())
    module = get_experiment(manifest["experiment"])
    trials = pd.read_csv(out / "trials.csv", keep_default_na=True)
    errors = trials["error"] if "error" in trials else pd.Series([None] * len(trials))
    trials["error"] = errors.astype("object").where(errors.notna(), "")
    epochs = _read_csv(out / "epochs.csv")
    table = module.table(trials)
    table.to_csv(out / "table.csv", index=False)
    text = f"**{caption(manifest, trials)}**\n\n{_markdown(table)}\n"
    (out / "table.md").write_text(text, encoding="utf-8")
    figures = module.figures(out, trials, epochs) if (trials["status"] == "ok").any() else []
    return [out / "table.md", out / "table.csv", *figures, *genotype_figures(out)]


def genotype_figures(out: Path) -> list[Path]:
    """From genotypes.jsonl: the cells of every distinct genotype of a finished trial
    (figures/cells/<setting>.png, or <setting>_seed<N>.png where the seeds found different ones) and
    the final weights of each searched setting, all seeds pooled (figures/weights/<setting>.png)."""
    from fairdarts_core import Genotype

    from . import plots

    path = out / "genotypes.jsonl"
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            entry = json.loads(line) if line.strip() else {}
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} line {number} is not JSON: {err.msg}") from None
        if entry.get("status") == "ok" and entry.get("genotype"):
            entries.append(entry)
    distinct: dict[str, set[str]] = {}
    for entry in entries:
        distinct.setdefault(entry["label"], set()).add(json.dumps(entry["genotype"], sort_keys=True))
    paths: list[Path] = []
    drawn: set[str] = set()
    pooled: dict[str, dict[str, list]] = {}
    for entry in entries:
        label = entry["label"]
        one = len(distinct[label]) == 1
        name = safe_name(label) if one else f"{safe_name(label)}_seed{entry['seed']}"
        if name not in drawn:
            drawn.add(name)
            try:
                paths.append(plots.plot_cells(Genotype.from_json(entry["genotype"]),
                                              out / "figures" / "cells" / f"{name}.png",
                                              title=label if one else f"{label} | seed {entry['seed']}"))
            except ValueError:
                pass  # a cell the threshold parse left empty has nothing to draw
        weights = entry.get("weights")
        if weights:
            group = pooled.setdefault(label, {"normal": [], "reduce": [], "activation": weights["activation"]})
            for cell in ("normal", "reduce"):
                group[cell] += weights[cell]
    for label, group in pooled.items():
        paths.append(plots.plot_weight_histogram({"normal": group["normal"], "reduce": group["reduce"]},
                                                 out / "figures" / "weights" / f"{safe_name(label)}.png",
                                                 group["activation"]))
    return paths


def _markdown(table: pd.DataFrame) -> str:
    """A pipe table without the tabulate dependency."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)
