"""Experiment files: collect trial folders into trials.csv / epochs.csv / genotypes.jsonl, write the
manifest, and draw tables, figures and the folder's README from those files alone (`darts-bench
report DIR`).

trials.csv has one row per (setting, parse, seed); `row` names the table row ("setting | parse").
A results folder may hold notes.md, written by a person after looking at the numbers: what the study
shows and what it does not. The README quotes it under the table.
"""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from fairdarts_core.nb201_table import NB201Table, lookup_columns, open_table, param_free_chance

from .pipeline import write_json
from .spec import Experiment, row_name, safe_name, trial_key

TRIAL_COLUMNS = ("row", "label", "parse", "seed", "variant", "options", "space", "status", "error", "trained_as",
                 "flops_m", "params_m", "params_with_aux_m", "bench_flops_m", "bench_params_m", "test_acc",
                 "train_acc", "skips_normal", "skips_reduce", "search_disc_gap", "search_near_01",
                 "search_param_free_fraction", "search_seconds", "train_seconds", "trial_seconds", "dataset",
                 "train_channels", "train_layers", "train_epochs", "train_batch_size", "train_lr", "train_drop_path",
                 "train_limit")


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def collect(out: Path, experiment: Experiment, work_root: Path, errors: dict[str, str]) -> None:
    """Write trials.csv, epochs.csv and genotypes.jsonl from the trials' work folders."""
    trials, epochs, genotypes = [], [], []
    for config in experiment.trial_configs():
        key = trial_key(config)
        work = work_root / key
        setting, seed = config["setting"], config["seed"]
        result_path = work / "result.json"
        if result_path.is_file():
            result = json.loads(result_path.read_text())
            for i, row in enumerate(result["rows"]):
                row = dict(row, dataset=result.get("dataset", ""))
                trials.append(row)
                genotypes.append({"label": row["label"], "parse": row["parse"], "seed": seed, "status": row["status"],
                                  "genotype": json.loads(row["genotype"]) if row.get("genotype") else None,
                                  "weights": result.get("weights") if i == 0 else None})
        else:
            error = errors.get(key)
            if error is None and (work / "error.txt").is_file():
                error = (work / "error.txt").read_text().splitlines()[0]
            for parse in [p["label"] for p in setting["parses"]] or [""]:
                trials.append({"label": setting["label"], "parse": parse, "seed": seed,
                               "variant": setting["variant"] or "", "status": "error" if error else "missing",
                               "error": error or "trial did not finish"})
                genotypes.append({"label": setting["label"], "parse": parse, "seed": seed,
                                  "status": trials[-1]["status"], "genotype": None})
        epochs += _histories(work, setting["label"], seed)
    frame = pd.DataFrame(trials)
    frame["row"] = [row_name(label, parse) for label, parse in zip(frame["label"], frame["parse"].fillna(""))]
    frame["error"] = frame.get("error", pd.Series([""] * len(frame))).fillna("")
    ordered = list(TRIAL_COLUMNS) + [c for c in frame.columns if c not in TRIAL_COLUMNS]
    frame.reindex(columns=ordered).to_csv(out / "trials.csv", index=False)
    (pd.concat(epochs, ignore_index=True) if epochs else pd.DataFrame(columns=["label", "seed", "stage", "epoch"])) \
        .to_csv(out / "epochs.csv", index=False)
    with (out / "genotypes.jsonl").open("w", encoding="utf-8") as fh:
        for entry in genotypes:
            fh.write(json.dumps(entry) + "\n")


def _histories(work: Path, label: str, seed: int) -> list[pd.DataFrame]:
    """The search history and every training's history of a trial folder, tagged."""
    frames = []
    for folder in [work / "search", *sorted(work.glob("train_*"))]:
        history = _read_csv(folder / "history.csv")
        if history.empty:
            continue
        phase = "search" if folder.name == "search" else "train"
        history = history.drop(columns=[c for c in ("resumed", "stage") if c in history.columns and phase == "train"])
        if "stage" in history.columns:
            history = history.rename(columns={"stage": "search_stage"})
        history.insert(0, "genotype_key", "" if phase == "search" else folder.name.removeprefix("train_"))
        history.insert(0, "stage", phase)
        history.insert(0, "seed", seed)
        history.insert(0, "label", label)
        frames.append(history.drop(columns=[c for c in ("resumed",) if c in history.columns]))
    return frames


def git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "ray", "thop", "pandas", "numpy", "mlxtend"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def time_use(trials: pd.DataFrame, wall_seconds: float, slots: float | None) -> dict[str, float]:
    """Where a study's time went: the trials' seconds inside the search and training loops, their seconds
    in all (data, profiles, files besides) and, given the number of trials that could run at once, the
    share of the study's trial slots (wall x slots) they filled (the rest: Ray's start, scheduling, slots
    left idle). Empty for results without trial times."""
    if trials.empty or "trial_seconds" not in trials or trials["trial_seconds"].isna().all():
        return {}
    per_trial = trials.groupby(["label", "seed"], sort=False)
    own_training = trials["trained_as"].isna() | trials["trained_as"].astype(str).eq("")
    loops = float(per_trial["search_seconds"].max().fillna(0).sum()
                  + trials.loc[own_training, "train_seconds"].fillna(0).sum())
    total = float(per_trial["trial_seconds"].max().fillna(0).sum())
    use = {"trial_seconds": round(total, 1), "loop_seconds": round(loops, 1),
           "outside_loops_fraction": round(1 - loops / total, 3) if total else 0.0}
    if slots and wall_seconds > 0:
        use.update(slots=slots, slots_busy_fraction=round(total / (wall_seconds * slots), 3))
    return use


def time_use_line(wall_seconds: float, use: dict[str, float]) -> str:
    """One line on where the study's time went (the manifest's time_use)."""
    line = f"wall {wall_seconds:.0f} s"
    if use:
        line += (f"; trials {use['trial_seconds']:.0f} s, {use['outside_loops_fraction']:.0%} of it outside the "
                 f"search and training loops")
    if "slots_busy_fraction" in use:
        line += f"; {use['slots']:g} trial slots {use['slots_busy_fraction']:.0%} busy"
    return line


def write_manifest(out: Path, options: Any, experiment: Experiment, wall_seconds: float) -> None:
    import os

    import torch

    previous = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else {}
    if options.gpus_per_trial and torch.cuda.is_available():
        device = f"{torch.cuda.get_device_name(0)} ({options.gpus_per_trial:g} GPU(s) per trial)"
        slots = (options.num_gpus or torch.cuda.device_count()) / options.gpus_per_trial
    else:
        device = f"cpu ({os.cpu_count()} cores, {options.cpus_per_trial:g} CPU(s) per trial)"
        slots = (options.num_cpus or os.cpu_count() or 1) // options.cpus_per_trial
    # Trial slots of this run: unknown on a cluster, and a resumed run's wall leaves out the earlier runs.
    slots = None if options.address or options.resume else min(slots, len(experiment.trial_configs()))
    write_json(out / "manifest.json", {
        "experiment": experiment.name,
        "title": experiment.title,
        "protocol": experiment.protocol,
        "command": options.command,
        "preset": experiment.sizes.name,
        "dataset": options.dataset,
        **({"nb201_table": options.nb201_table} if getattr(options, "nb201_table", None) else {}),
        "seeds": list(experiment.seeds),
        **({"setting_seeds": {s.label: list(s.seeds) for s in experiment.settings if s.seeds}}
           if any(s.seeds for s in experiment.settings) else {}),
        "settings": [s.label for s in experiment.settings],
        "git_sha": git_sha(),
        "versions": versions(),
        "device": device,
        "platform": platform.platform(),
        "wall_seconds": round(wall_seconds, 1),
        "time_use": time_use(_read_csv(out / "trials.csv"), wall_seconds, slots),
        "runs": previous.get("runs", []) + [{"command": options.command, "wall_seconds": round(wall_seconds, 1),
                                              "resume": bool(options.resume)}],
    })


def caption(manifest: dict[str, Any], trials: pd.DataFrame, table: pd.DataFrame | None = None,
            calibration: pd.DataFrame | None = None) -> str:
    """The table's caption: study, preset, protocol, data, trained network, what FLOPs and Params are, and for
    trained accuracies the protocol's noise floor (from `calibration`, the noise study's seeds)."""
    from .experiments.stats import CALIBRATION_COLUMNS, noise_caption

    ok = trials[trials["status"] == "ok"] if "status" in trials else trials
    parts = [f"{manifest['title']}, preset `{manifest['preset']}`"]
    if manifest.get("protocol"):
        parts.append(manifest["protocol"])
    trained = "test_acc" in ok and ok["test_acc"].notna().any()
    if trained and "dataset" in ok and pd.notna(ok["dataset"].iloc[0]):
        parts.append(f"accuracy on {ok['dataset'].iloc[0]}")
    elif not trained and manifest.get("dataset"):
        parts.append(f"searched on the `{manifest['dataset']}` data")
    if "train_channels" in ok and len(ok) and pd.notna(ok["train_channels"].iloc[0]):
        networks = dict.fromkeys(f"C={int(r['train_channels'])}, {int(r['train_layers'])} cells, "
                                 f"{int(r['train_epochs'])} epochs" for _, r in ok.iterrows()
                                 if pd.notna(r["train_channels"]))
        label = "trained network " if len(networks) == 1 else "trained networks (by row) "
        parts.append(label + " or ".join(networks))
    spaces = set(ok["space"].dropna()) if "space" in ok else set()
    if table is not None and not any(c.startswith(("FLOPs", "Params")) for c in table.columns):
        pass  # the table shows neither
    elif spaces == {"nb201"}:
        parts.append("Params of the NAS-Bench-201 network (C=16, N=5)")
    elif spaces <= {"darts", ""}:
        parts.append("FLOPs (thop multiply-adds, BN removed) and Params of the paper-scale network (C=36, 20 cells, "
                     "one 3x32x32 image)")
    else:
        parts.append("FLOPs (thop multiply-adds, BN removed) and Params of each space's paper-scale network "
                     "(DARTS cells: C=36, 20 cells; NB201: C=16, N=5)")
    if trained:
        noise = noise_caption(trials, calibration if calibration is not None else
                              pd.DataFrame(columns=list(CALIBRATION_COLUMNS)))
        parts += [noise] if noise else []
    return "; ".join(parts) + "."


CALIBRATION_FILE = "calibration.csv"  # written by the noise study's report: cell, protocol, seed, accuracy


def calibration_files(out: Path) -> list[Path]:
    """The noise calibrations a results folder's captions read: calibration.csv of the folder itself and of every
    sibling folder named noise* (results/noise, results/noise_cifar10, ...), sorted."""
    return sorted({*out.parent.glob(f"noise*/{CALIBRATION_FILE}"), *out.glob(CALIBRATION_FILE)})


# Columns every trials.csv this version writes has; a folder without them came from another version.
REQUIRED_COLUMNS = ("row", "label", "seed", "status")


def load_trials(out: Path) -> pd.DataFrame:
    trials = pd.read_csv(out / "trials.csv", keep_default_na=True)
    missing = [c for c in REQUIRED_COLUMNS if c not in trials]
    if missing:
        raise ValueError(f"{out / 'trials.csv'} has no column {missing[0]!r}: it was written by another version "
                         "of the harness; rerun the study to report it")
    for column in ("error", "parse", "trained_as", "space"):
        values = trials[column] if column in trials else pd.Series([None] * len(trials))
        trials[column] = values.astype("object").where(values.notna(), "")
    return trials


BENCHMARK_FILE = "benchmark.json"


def write_benchmark(out: Path, table: NB201Table) -> None:
    """benchmark.json: the NB201 table a folder's ground truth came from (file, sha256) and what the
    reports need of the whole space: per column the mean over all cells (a uniformly random cell's
    expectation), its std and the best, and the chance rate of a skip-dominated cell."""
    summary = table.summary()
    summary["param_free_chance"] = {f">={k} of 6": param_free_chance(k) for k in range(1, 7)}
    write_json(out / BENCHMARK_FILE, summary)


def read_benchmark(out: Path) -> dict[str, Any] | None:
    path = out / BENCHMARK_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def add_ground_truth(out: Path, table: NB201Table) -> int:
    """Add the table's values (columns nb201_<column>) of every NB201 cell in trials.csv and of every
    search epoch's NB201 cell in epochs.csv, and write benchmark.json; returns the rows looked up. No
    search is rerun: the cells are those the files hold."""
    trials = pd.read_csv(out / "trials.csv")
    looked = _with_ground_truth(trials, table)
    trials.to_csv(out / "trials.csv", index=False)
    epochs = _read_csv(out / "epochs.csv")
    if not epochs.empty:
        _with_ground_truth(epochs, table)
        epochs.to_csv(out / "epochs.csv", index=False)
    write_benchmark(out, table)
    return looked


def _with_ground_truth(frame: pd.DataFrame, table: NB201Table) -> int:
    """In place: nb201_<column> of each row whose `genotype` is an NB201 cell (others NaN)."""
    if "genotype" not in frame:
        return 0
    found: dict[int, dict[str, float]] = {}
    for i, text in frame["genotype"].items():
        if isinstance(text, str) and '"nb201"' in text:
            found[i] = dict(lookup_columns(table, text))
    for column in dict.fromkeys(k for values in found.values() for k in values):
        frame[column] = pd.Series({i: values.get(column) for i, values in found.items()}, dtype=float)
    return len(found)


def report(out: str | Path, nb201_table: str | Path | None = None) -> list[Path]:
    """Redraw table.csv, table.md, figures/ and README.md of an experiment folder from its files alone
    (with an NB201 table: first add its values of the folder's NB201 cells to those files)."""
    from .experiments import EXPERIMENTS, generic
    from .experiments.stats import read_calibration

    out = Path(out)
    if not (out / "manifest.json").is_file():
        raise FileNotFoundError(f"{out} is not an experiment results folder (no manifest.json)")
    manifest = json.loads((out / "manifest.json").read_text())
    module = EXPERIMENTS[manifest["experiment"]] if manifest["experiment"] in EXPERIMENTS else generic
    load_trials(out)  # a folder of another version is refused before anything is written
    if nb201_table is not None:
        add_ground_truth(out, open_table(nb201_table))
    trials = load_trials(out)
    epochs = _read_csv(out / "epochs.csv")
    benchmark = read_benchmark(out)
    table = module.table(trials, benchmark)
    table.to_csv(out / "table.csv", index=False)
    written = [hook(out, trials) for hook in [getattr(module, "write_files", None)] if hook]  # e.g. calibration.csv
    calibration = read_calibration(calibration_files(out))
    text = f"**{caption(manifest, trials, table, calibration)}**\n\n{markdown(table)}\n"
    notes = getattr(module, "TABLE_NOTES", "")
    if notes:
        text += f"\n{notes}\n"
    (out / "table.md").write_text(text, encoding="utf-8")
    figures = module.figures(out, trials, epochs, benchmark) if (trials["status"] == "ok").any() else []
    cells = genotype_figures(out)
    extra = [p.read_text(encoding="utf-8") for paths in written for p in paths if p.suffix == ".md"]
    readme = write_readme(out, manifest, text, figures, cells, trials, extra)
    return [out / "table.md", out / "table.csv", *[p for paths in written for p in paths], *figures, *cells, readme]


def time_use_text(manifest: dict[str, Any], trials: pd.DataFrame | None) -> str:
    """The README's time-use line: the manifest's account, else what trials.csv's trial times give (no trial
    slots known), else a statement that the run recorded none."""
    wall = float(manifest.get("wall_seconds", 0) or 0)
    use = manifest.get("time_use") or (time_use(trials, wall, None) if trials is not None else {})
    if use:
        return time_use_line(wall, use)
    return f"wall {wall:.0f} s; trial times not recorded (the harness version of this run did not write them)"


def write_readme(out: Path, manifest: dict[str, Any], table_text: str, figures: list[Path],
                 cells: list[Path], trials: pd.DataFrame | None = None, extra: list[str] | None = None) -> Path:
    """README.md of a results folder: what ran (command, commit, versions, time and its use), the table and
    the study's extra Markdown tables (`extra`), the figures inline, and notes.md (what it shows and does not)
    when the folder has one."""
    lines = [f"# {manifest['title']}", ""]
    lines += [f"- command: `{manifest.get('command', '')}`",
              f"- commit: `{manifest.get('git_sha', 'unknown')}`, preset `{manifest.get('preset')}`, "
              f"dataset `{manifest.get('dataset')}`, seeds {manifest.get('seeds')}"
              + "".join(f"; {label}: seeds {seeds}" for label, seeds in manifest.get("setting_seeds", {}).items()),
              f"- device: {manifest.get('device', '?')}; wall time {manifest.get('wall_seconds', 0):.0f} s"
              + (f" over {len(manifest['runs'])} runs (resumed)" if len(manifest.get("runs", [])) > 1 else ""),
              f"- time use: {time_use_text(manifest, trials)}",
              "- versions: " + ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items()), ""]
    lines += ["## Table", "", table_text.strip(), ""]
    for text in extra or []:
        lines += [text.strip(), ""]
    notes = out / "notes.md"
    if notes.is_file():
        lines += ["## What it shows, and what it does not", "", notes.read_text(encoding="utf-8").strip(), ""]
    if figures:
        lines += ["## Figures", ""]
        for path in figures:
            rel = path.relative_to(out).as_posix()
            lines += [f"![{path.stem}]({rel})", ""]
    if cells:
        folders = {p.relative_to(out).parts[1] for p in cells if len(p.relative_to(out).parts) > 2}
        said = [text for folder, text in (("cells", "every distinct genotype's cells are in `figures/cells/`"),
                                          ("weights", "each searched setting's final weights in `figures/weights/`"))
                if folder in folders]
        lines += ["## Cells and weights" if "weights" in folders else "## Cells", "",
                  "; ".join(said).capitalize() + ":", ""]
        lines += [f"- [{p.relative_to(out).as_posix()}]({p.relative_to(out).as_posix()})" for p in cells]
        lines.append("")
    lines += ["## Files", "",
              "`manifest.json` (what ran), `trials.csv` (one row per setting, parse and seed, failed ones "
              "included), `epochs.csv` (every search and training epoch), `genotypes.jsonl` (genotypes and final "
              "weights), `table.csv` / `table.md`. `darts-bench report` redraws the tables, figures and this "
              "README from them.", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def genotype_figures(out: Path) -> list[Path]:
    """From genotypes.jsonl: the cells of every distinct genotype of a finished row
    (figures/cells/<row>.png, or <row>_seed<N>.png where the seeds found different ones) and the final
    weights of each searched setting, all seeds pooled (figures/weights/<setting>.png)."""
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
        distinct.setdefault(row_name(entry["label"], entry.get("parse", "")), set()).add(
            json.dumps(entry["genotype"], sort_keys=True))
    paths: list[Path] = []
    drawn: set[str] = set()
    pooled: dict[str, dict[str, Any]] = {}
    for entry in entries:
        row = row_name(entry["label"], entry.get("parse", ""))
        one = len(distinct[row]) == 1
        name = safe_name(row) if one else f"{safe_name(row)}_seed{entry['seed']}"
        if name not in drawn:
            drawn.add(name)
            try:
                paths.append(plots.plot_cells(Genotype.from_json(entry["genotype"]),
                                              out / "figures" / "cells" / f"{name}.png",
                                              title=row if one else f"{row} | seed {entry['seed']}"))
            except ValueError:
                pass  # a cell the threshold parse left empty has nothing to draw
        weights = entry.get("weights")
        if weights:
            kinds = [k for k, v in weights.items() if k != "primitives" and isinstance(v, list)]
            group = pooled.setdefault(entry["label"], {"cells": {k: [] for k in kinds},
                                                       "activation": weights.get("activation", "")})
            for kind in kinds:
                group["cells"].setdefault(kind, []).extend(weights[kind])
    for label, group in pooled.items():
        paths.append(plots.plot_weight_histogram(group["cells"], out / "figures" / "weights" / f"{safe_name(label)}.png",
                                                 group["activation"]))
    return paths


def markdown(table: pd.DataFrame) -> str:
    """A pipe table without the tabulate dependency; a `|` inside a cell or header is escaped, so that a
    label such as "setting | parse" stays one cell."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    cols = [cell(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)
