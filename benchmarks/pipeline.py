"""Search and training runs that write their files: what the CLI and the Ray trials both call.

A run folder holds its files by name (below); a folder that already holds a finished or
started run is never overwritten unless the run resumes.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from fairdarts_core.data import ImageSet
from fairdarts_core.genotype import Genotype, GenotypeError
from fairdarts_core.nb201_table import NB201Table, lookup_columns
from fairdarts_core.search import ParseSpec, search
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import regularized_config
from fairdarts_core.spaces import DEFAULT_SPACE, get_space, space_of
from fairdarts_core.train import TrainConfig, train
from fairdarts_core.variant import Variant

OnEpoch = Callable[[dict[str, Any]], None]
OnStep = Callable[[int, int, int], None]


class RunExistsError(ValueError):
    """The output folder already holds a run and --resume was not given."""


def prepare_out_dir(out_dir: str | Path, resume: bool, marker: str = "checkpoint.pt") -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunExistsError(f"--out {out} is a file, not a folder")
    if not resume and out.is_dir() and any(out.iterdir()):
        raise RunExistsError(f"--out {out} already holds files; pass --resume to continue that run "
                             f"or choose an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows of flat values to CSV (columns: union of keys, in first-seen order); atomic."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    tmp.replace(path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def format_epoch(record: dict[str, Any], total: int, keys: tuple[str, ...]) -> str:
    parts = [f"epoch {record['epoch'] + 1}/{total}"]
    for key in keys:
        value = record.get(key)
        if isinstance(value, float) and not math.isnan(value):
            parts.append(f"{key} {value:.3f}" if abs(value) < 10 else f"{key} {value:.1f}")
        elif isinstance(value, int):
            parts.append(f"{key} {value}")
    parts.append(f"{record.get('seconds', 0.0):.1f}s")
    return "  ".join(parts)


SEARCH_PROGRESS = ("train_acc", "val_acc", "zero_one_loss", "skip_normal", "near_01", "disc_gap")
TRAIN_PROGRESS = ("train_loss", "train_acc", "test_acc", "lr")


def check_nb201_table(table: NB201Table | None, space: str) -> None:
    """Ground truth applies to NB201 searches only: a table with another space is a one-line error."""
    if table is not None and space != "nb201":
        raise ValueError(f"--nb201-table looks up NB201 cells; this search is in the {space} space (--space nb201)")


@dataclass(frozen=True)
class SearchResult:
    """A finished search, as its files hold it: the last history row (with the KEY@LABEL columns of the
    extra parses and any ground truth), the final weights (alphas.json without its history), the wall
    seconds, and per parse label ("": the variant's own parse) the genotype or the error parsing it."""

    last: dict[str, Any]
    final_weights: dict[str, Any]
    wall_seconds: float
    genotypes: dict[str, Genotype | GenotypeError | KeyError]

    @property
    def genotype(self) -> Genotype:
        """The variant's own parse of the final weights."""
        return Genotype.from_json(self.last["genotype"])

    @classmethod
    def of(cls, last: dict[str, Any], final_weights: dict[str, Any], wall_seconds: float,
           labels: Sequence[str] = ()) -> SearchResult:
        genotypes: dict[str, Genotype | GenotypeError | KeyError] = {}
        for label in list(labels) or [""]:
            try:
                genotypes[label] = Genotype.from_json(last["genotype" if not label else f"genotype@{label}"])
            except (GenotypeError, KeyError) as err:
                genotypes[label] = err
        return cls(last, final_weights, wall_seconds, genotypes)


def returned_row(rows: Sequence[Mapping[str, Any]]) -> int:
    """The index of the history row whose architecture a search returns: the last, or where a regularizer's
    stop rule ended the search (R-DARTS ES), the row of the epoch it names (the last row's stop_epoch)."""
    stop = rows[-1].get("stop_epoch")
    if stop is None or stop == "":
        return len(rows) - 1
    return next(i for i, r in enumerate(rows) if int(r["epoch"]) == int(stop))


def _returned(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The row `returned_row` names, with the last row's stop_epoch when there is one."""
    row = dict(rows[returned_row(rows)])
    if rows[-1].get("stop_epoch") not in (None, ""):
        row["stop_epoch"] = rows[-1]["stop_epoch"]
    return row


def read_search_result(out: Path, labels: Sequence[str] = ()) -> SearchResult:
    """The SearchResult of a search that `run_search` finished in `out` (read from its files)."""
    with (out / "history.csv").open(encoding="utf-8") as fh:
        last = _returned(list(csv.DictReader(fh)))
    alphas = json.loads((out / "alphas.json").read_text())
    final = {k: v for k, v in alphas.items() if k not in ("history", "options", "variant")}
    wall = float(json.loads((out / "search.json").read_text())["wall_seconds"])
    return SearchResult.of({k: _csv_value(v) for k, v in last.items() if v != ""}, final, wall, labels)


def _csv_value(text: str) -> Any:
    """A history cell back as the value write_csv wrote: an int, a float, a bool or the string."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run_search(variant: Variant, train_set: ImageSet, config: SearchConfig, out_dir: str | Path,
               device: torch.device | str = "cpu", resume: bool = False, on_epoch: OnEpoch | None = None,
               figures: bool = True, parses: Sequence[ParseSpec] = (), on_step: OnStep | None = None,
               nb201_table: NB201Table | None = None) -> SearchResult:
    """Search and write genotype.json, alphas.json, history.csv, checkpoint.pt and figures/ to out_dir.
    Each extra parse setting's per-epoch genotype and indicators become history columns KEY@LABEL; with an
    NB201 table, the table's values of each epoch's cell become columns nb201_<column> (ground truth)."""
    check_nb201_table(nb201_table, config.space)
    out = prepare_out_dir(out_dir, resume)
    began = time.time()
    history, weights_history = [], []
    for record in search(variant, train_set, config, device, out, resume, parses=parses, on_step=on_step):
        weights = record.pop("weights")
        for label, values in record.pop("parses", {}).items():
            record.update({f"{key}@{label}": value for key, value in values.items()})
        if nb201_table is not None:
            record.update(lookup_columns(nb201_table, record["genotype"]))
        weights_history.append(weights)
        history.append(record)
        write_csv(out / "history.csv", history)
        if on_epoch is not None:
            on_epoch(dict(record, weights=weights))
    last = returned_row(history)
    genotype = Genotype.from_json(history[last]["genotype"])
    space = get_space(config.space)
    kinds = list(weights_history[last])
    final = {"activation": variant.activation, "space": space.name, "primitives": list(variant.primitives(space)),
             **{k: weights_history[last][k] for k in kinds}}
    write_json(out / "genotype.json", genotype.to_dict())
    write_json(out / "alphas.json", {"variant": variant.name, "options": variant.options(), **final,
                                     "history": {k: [w[k] for w in weights_history] for k in kinds}})
    result = SearchResult.of(_returned(history), final, time.time() - began, [label for label, _, _ in parses])
    write_json(out / "search.json", {"variant": variant.name, "description": variant.describe(),
                                     "options": variant.options(), "config": asdict(regularized_config(variant, config)),
                                     "dataset": train_set.name, "normalization": data_record(train_set),
                                     "device": str(device), "wall_seconds": result.wall_seconds,
                                     **({"nb201_table": nb201_table.path} if nb201_table is not None else {})})
    if figures:
        draw_search_figures(out)
    return result


def draw_search_figures(out: Path) -> list[Path]:
    """The search figures, drawn from the run's files alone."""
    import numpy as np
    import pandas as pd

    from . import plots

    alphas = json.loads((out / "alphas.json").read_text())
    history = pd.read_csv(out / "history.csv")
    genotype = Genotype.from_json((out / "genotype.json").read_text())
    fig = out / "figures"
    prims = alphas["primitives"]
    space = get_space(alphas.get("space", DEFAULT_SPACE))
    kinds = list(alphas["history"])
    stage = history["stage"].tolist() if "stage" in history else []
    starts = [e for e in range(1, len(stage)) if stage[e] != stage[e - 1]]
    paths = [plots.plot_weight_trajectories(np.asarray(alphas["history"][c]), prims, fig / f"weights_{c}.png",
                                            cell=c, edges=space.edges, stage_starts=starts) for c in kinds]
    final = {c: np.asarray(alphas[c]) for c in kinds}
    paths.append(plots.plot_weight_heatmaps(final, prims, fig / "weights_final.png", alphas["activation"],
                                            edges=space.edges))
    paths.append(plots.plot_skip_counts(history, fig / "skip_counts.png", one_cell=len(kinds) == 1))
    truth = [c for c in GROUND_TRUTH if c in history and history[c].notna().any()]
    if truth:
        long = history.melt(id_vars=["epoch"], value_vars=truth, var_name="label", value_name="accuracy")
        long["label"] = long["label"].map(GROUND_TRUTH)
        paths.append(plots.plot_seed_curves(long, "accuracy", fig / "ground_truth.png", "NAS-Bench-201 accuracy (%)",
                                            title="benchmark accuracy of the cell parsed at each epoch"))
    paths.append(plots.plot_weight_histogram(final, fig / "weights_histogram.png", alphas["activation"]))
    try:
        paths.append(plots.plot_cells(genotype, fig / "genotype.png", title=f"{alphas['variant']} genotype"))
    except ValueError:
        pass  # an empty cell (threshold parse kept nothing) has nothing to draw
    return paths


# The ground-truth columns a search's figure draws (NB201 CIFAR-10 test and valid accuracy).
GROUND_TRUTH = {"nb201_cifar10_test": "CIFAR-10 test", "nb201_cifar10_valid": "CIFAR-10 valid"}


def data_record(data: ImageSet) -> dict[str, Any]:
    """What a run records of its data: the set, its size and the normalization it used (train-split stats)."""
    return {"dataset": data.name, "images": len(data), "mean": list(data.mean), "std": list(data.std)}


def run_train(genotype: Genotype, train_set: ImageSet, test_set: ImageSet, config: TrainConfig,
              out_dir: str | Path, device: torch.device | str = "cpu", resume: bool = False,
              on_epoch: OnEpoch | None = None, on_step: OnStep | None = None) -> dict[str, Any]:
    """Train and write history.csv, checkpoint.pt and result.json (final accuracy, FLOPs, params)."""
    out = prepare_out_dir(out_dir, resume)
    profile = space_of(genotype).profile(genotype, num_classes=train_set.num_classes)
    history_path = out / "history.csv"
    history: list[dict[str, Any]] = []
    began = time.time()
    for record in train(genotype, train_set, test_set, config, device, out, resume, on_step=on_step):
        history.append(record)
        write_csv(history_path, history)
        if on_epoch is not None:
            on_epoch(record)
    last = history[-1] if history else {}
    result = {
        "genotype": genotype.to_dict(), "dataset": train_set.name, "normalization": data_record(train_set),
        "config": asdict(config),
        "device": str(device), **profile, "test_acc": last.get("test_acc"), "train_acc": last.get("train_acc"),
        "epochs": config.epochs, "wall_seconds": time.time() - began,
    }
    write_json(out / "result.json", result)
    return result


# ----- perturbation-based selection (DARTS-PT) on a finished search's folder -------------------------------
SELECTION_FILES = ("genotype.json", "decisions.json", "decisions.csv", "tune_history.csv", "selection.json")


def search_folder_checkpoint(run_dir: str | Path) -> Path:
    """A search folder's checkpoint.pt; a folder that is no search run, or one without checkpoint, is an error."""
    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"{run} is not a folder (a search run's --out folder)")
    if not (run / "search.json").is_file() and not (run / "alphas.json").is_file() and \
            not (run / "checkpoint.pt").is_file():
        raise ValueError(f"{run} is not a search run (no search.json, alphas.json or checkpoint.pt)")
    ckpt = run / "checkpoint.pt"
    if not ckpt.is_file():
        raise ValueError(f"{run} holds no checkpoint.pt (the selection needs the search's supernet)")
    return ckpt


def decision_rows(decisions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per judged candidate: the decision, the candidate, its accuracy and loss, whether chosen."""
    rows = []
    for d in decisions:
        common = {"step": d["step"], "tuned_epochs": d["tuned_epochs"], "kind": d["kind"], "cell": d["cell"]}
        if d["kind"] == "op":
            for c in d["candidates"]:
                rows.append({**common, "node": d["dst"], "src": d["src"], "round": 0, "masked": c["op"],
                             "acc": c["acc"], "loss": c["loss"], "chosen": c["op"] == d["op"]})
        else:
            for r, rnd in enumerate(d["rounds"]):
                for c in rnd["candidates"]:
                    rows.append({**common, "node": d["node"], "src": c["src"], "round": r, "masked": f"edge {c['src']}",
                                 "acc": c["acc"], "loss": c["loss"], "chosen": c["src"] == rnd["dropped"]})
    return rows


def run_selection(run_dir: str | Path, train_set: ImageSet, options: Any = None, out_dir: str | Path | None = None,
                  device: torch.device | str = "cpu", on_decision: Callable[[dict[str, Any]], None] | None = None):
    """DARTS-PT's selection on the search in `run_dir` (`fairdarts_core.perturbation`); with out_dir, write its
    genotype.json, decisions.json / decisions.csv (every decision with the criterion values that made it),
    tune_history.csv (the fine-tuning epochs) and selection.json (options, order, seconds, final weights)."""
    from fairdarts_core.perturbation import select_from_checkpoint

    ckpt = search_folder_checkpoint(run_dir)
    out = prepare_out_dir(out_dir, False) if out_dir is not None else None
    selection = select_from_checkpoint(ckpt, train_set, options, device, on_decision)
    if out is not None:
        write_json(out / "genotype.json", selection.genotype.to_dict())
        write_json(out / "decisions.json", selection.decisions)
        write_csv(out / "decisions.csv", decision_rows(selection.decisions))
        write_csv(out / "tune_history.csv", selection.history)
        write_json(out / "selection.json", {"search": str(run_dir), "dataset": train_set.name,
                                            "options": selection.options, "order": selection.order,
                                            "seconds": selection.seconds, "genotype": selection.genotype.to_dict(),
                                            "weights": selection.weights})
    return selection


def selection_of(run_dir: str | Path, out_dir: str | Path, train_set: ImageSet,
                 device: torch.device | str = "cpu") -> tuple[Genotype, float]:
    """DARTS-PT's selection (official defaults) on the search in run_dir, written to out_dir; a finished one is
    read back and an interrupted one starts again. (genotype, its seconds)."""
    out = Path(out_dir)
    if (out / "selection.json").is_file():
        return read_selection(out)
    if out.is_dir():
        for f in out.iterdir():
            f.unlink()
    selection = run_selection(run_dir, train_set, None, out, device)
    return selection.genotype, selection.seconds


def read_selection(out_dir: str | Path) -> tuple[Genotype, float]:
    """(genotype, seconds) of a selection `run_selection` wrote to out_dir."""
    data = json.loads((Path(out_dir) / "selection.json").read_text())
    return Genotype.from_json(data["genotype"]), float(data["seconds"])
