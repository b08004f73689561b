"""report: the manifest's account of where a study's time went."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.report import time_use, time_use_line


def _trials(**extra) -> pd.DataFrame:
    # Two trials; the first has two parse rows sharing one training (trained_as), the second failed to train.
    return pd.DataFrame({
        "label": ["A", "A", "A"], "seed": [0, 0, 1], "trained_as": [None, "sparse", None],
        "search_seconds": [60.0, 60.0, 50.0], "train_seconds": [30.0, 30.0, None],
        "trial_seconds": [100.0, 100.0, 60.0], **extra})


def test_time_use_counts_each_search_and_training_once():
    use = time_use(_trials(), wall_seconds=100.0, slots=2)
    assert use["trial_seconds"] == 160.0 and use["loop_seconds"] == 140.0  # 60 + 30 + 50
    assert use["outside_loops_fraction"] == pytest.approx(0.125)
    assert use["slots"] == 2 and use["slots_busy_fraction"] == pytest.approx(0.8)


def test_time_use_without_slots_or_trial_times():
    assert "slots_busy_fraction" not in time_use(_trials(), wall_seconds=100.0, slots=None)
    assert time_use(_trials().drop(columns="trial_seconds"), 100.0, 2) == {}
    assert time_use(pd.DataFrame(), 100.0, 2) == {}


def test_time_use_line_says_what_was_measured():
    line = time_use_line(100.0, time_use(_trials(), wall_seconds=100.0, slots=2))
    assert line == ("wall 100 s; trials 160 s, 12% of it outside the search and training loops; "
                    "2 trial slots 80% busy")
    assert time_use_line(5.0, {}) == "wall 5 s"


def test_markdown_escapes_a_pipe_in_a_label():
    """A row label like "setting | parse" stays one cell: every line has as many cells as the header."""
    from benchmarks.report import markdown

    text = markdown(pd.DataFrame([{"Setting": "sigmoid, L2, w=10 | sparse 0.85", "Accuracy %": "91.2", "n": 2}]))
    header, rule, row = text.splitlines()
    assert row == "| sigmoid, L2, w=10 \\| sparse 0.85 | 91.2 | 2 |"
    unescaped = [line.replace("\\|", "") for line in (header, rule, row)]
    assert len({line.count("|") for line in unescaped}) == 1


# ----- `darts-bench report` regenerates a folder byte for byte ---------------------------------------
PROTOCOL = {"dataset": "digits-test", "train_channels": 8, "train_layers": 5, "train_epochs": 3,
            "train_batch_size": 64, "train_lr": 0.05, "train_drop_path": 0.1}


def _study_folder(root: Path) -> Path:
    """A small variants folder as a run writes it (two methods x two seeds, a failed row, a search history with
    final weights) and a sibling noise calibration of its training protocol."""
    import json

    from fairdarts_core import Genotype

    out = root / "variants"
    out.mkdir(parents=True)
    manifest = {"experiment": "variants", "title": "Search variants under one protocol", "protocol": "tiny",
                "command": "darts-bench experiment variants --preset smoke", "preset": "smoke", "dataset": "digits",
                "seeds": [0, 1, 2], "settings": ["darts_v1", "random_uniform"], "git_sha": "0" * 40,
                "versions": {"python": "3"}, "device": "cpu", "wall_seconds": 12.5}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    # NB201 cells: small drawings keep the test short (the report draws every space alike)
    cells = {"darts_v1": "|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",
             "random_uniform": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"}
    trials, genotypes, epochs = [], [], []
    primitives = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    for label, cell in cells.items():
        genotype = Genotype.from_json(json.dumps({"family": "nb201", "arch": cell}))
        for seed in (0, 1, 2):
            failed = label == "random_uniform" and seed == 2
            trials.append({"row": label, "label": label, "parse": "", "seed": seed, "variant": label, "space": "nb201",
                           "status": "error" if failed else "ok", "error": "ValueError: no cell" if failed else "",
                           **({} if failed else {"flops_m": 300.0 + seed / 3, "params_m": 1.5, "test_acc": 90.1 + seed % 2
                                                 + (label == "darts_v1"), "skips_normal": seed, "skips_reduce": 1,
                                                 "search_seconds": 10.0, "train_seconds": 5.0, "trial_seconds": 16.0,
                                                 "genotype": genotype.to_json(), **PROTOCOL})})
            weights = {"activation": "softmax", "space": "darts", "primitives": primitives,
                       "cell": [[0.2 + 0.01 * ((i + j + seed) % 3) for j in range(5)] for i in range(6)]} \
                if label == "darts_v1" else None
            genotypes.append({"label": label, "parse": "", "seed": seed, "status": trials[-1]["status"],
                              "genotype": None if failed else genotype.to_dict(), "weights": weights})
            if label == "darts_v1":
                epochs += [{"label": label, "seed": seed, "stage": "search", "epoch": e, "skip_normal": e + seed,
                            "skip_reduce": 0} for e in range(3)]
    pd.DataFrame(trials).to_csv(out / "trials.csv", index=False)
    pd.DataFrame(epochs).to_csv(out / "epochs.csv", index=False)
    (out / "genotypes.jsonl").write_text("".join(json.dumps(g) + "\n" for g in genotypes))
    (root / "noise").mkdir()
    from benchmarks.experiments.stats import training_protocol

    pd.DataFrame({"cell": ["A"] * 3 + ["B"] * 3, "protocol": [training_protocol(PROTOCOL)] * 6,
                  "seed": [0, 1, 2] * 2, "accuracy": [90.0, 91.0, 92.0, 95.0, 95.5, 96.0]}) \
        .to_csv(root / "noise" / "calibration.csv", index=False)
    return out


INPUTS = ("manifest.json", "trials.csv", "epochs.csv", "genotypes.jsonl")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_report_regenerates_a_folder_byte_for_byte(tmp_path):
    """Report a folder; a second folder holding only its input files reports to the same bytes, every figure
    included."""
    import shutil

    from benchmarks.report import report

    first = _study_folder(tmp_path / "a")
    report(first)
    written = _files(first)
    second = tmp_path / "b" / "variants"
    second.mkdir(parents=True)
    for name in INPUTS:
        shutil.copy(first / name, second / name)
    shutil.copytree(tmp_path / "a" / "noise", tmp_path / "b" / "noise")
    report(second)
    assert _files(second) == written
    assert {"README.md", "table.md", "table.csv", "figures/skip_counts.png", "figures/skips.png",
            "figures/cells/darts_v1.png", "figures/weights/darts_v1.png"} <= set(written)


def test_report_captions_the_noise_floor_and_the_gain_over_random(tmp_path):
    from benchmarks.report import report

    out = _study_folder(tmp_path)
    report(out)
    table_md = (out / "table.md").read_text()
    # pooled std of (90, 91, 92) and (95, 95.5, 96): sqrt((2 + 0.5) / 4); n=3 seeds at most per row
    assert "training-seed std 0.79 points (calibration: 2 cells x 3+ seeds)" in table_md
    assert "at n=3 a two-sample t-test (alpha 0.05, power 0.8) detects differences of 2.43 points or more" in table_md
    assert "vs random_uniform (95% CI)" in table_md and "Skips normal (random cell: 1.14)" in table_md
    # darts_v1 (91.1, 92.1, 91.1) against random_uniform (90.1, 91.1): +0.83 with Welch's interval
    assert "| +0.83 [" in table_md
    readme = (out / "README.md").read_text()
    assert "- time use: wall 12 s; trials 80 s, 6% of it outside the search and training loops" in readme
    assert "figures/weights/" in readme
    (tmp_path / "noise" / "calibration.csv").unlink()
    report(out)
    assert "noise floor not measured for this protocol (digits-test, C=8, 5 cells, 3 epochs" in \
        (out / "table.md").read_text()


def test_readme_names_the_weights_folder_only_when_it_is_drawn(tmp_path):
    import json

    from benchmarks.report import report

    out = _study_folder(tmp_path)
    lines = [json.loads(line) for line in (out / "genotypes.jsonl").read_text().splitlines()]
    (out / "genotypes.jsonl").write_text("".join(json.dumps({**e, "weights": None}) + "\n" for e in lines))
    report(out)
    readme = (out / "README.md").read_text()
    assert "## Cells\n" in readme and "figures/weights" not in readme


def test_time_use_text_without_a_manifest_account():
    from benchmarks.report import time_use_text

    assert time_use_text({"wall_seconds": 100.0}, _trials()) == \
        "wall 100 s; trials 160 s, 12% of it outside the search and training loops"
    assert "trial times not recorded" in time_use_text({"wall_seconds": 5.0}, pd.DataFrame())


def test_caption_names_each_trained_network_when_rows_train_differently():
    """A study whose rows train for different lengths (the noise study's protocols) names each network, not the
    first row's alone."""
    from benchmarks.report import caption

    rows = [{"row": f"A, {e} epochs", "seed": 0, "status": "ok", "test_acc": 90.0, "space": "darts",
             **PROTOCOL, "train_epochs": e} for e in (3, 10)]
    manifest = {"title": "T", "preset": "quick"}
    text = caption(manifest, pd.DataFrame(rows))
    assert "trained networks (by row) C=8, 5 cells, 3 epochs or C=8, 5 cells, 10 epochs" in text
    assert "trained network C=8, 5 cells, 3 epochs;" in caption(manifest, pd.DataFrame(rows[:1]))


def test_nb201_report_pairs_the_two_parses_of_each_search(tmp_path):
    """The NB201 study's selection table: perturbation against argmax on the same searches, paired by seed (a
    seed whose perturbation row failed has no pair), written to selection.csv and shown in the README."""
    import json

    from benchmarks.report import report

    cells = {"argmax": "|none~0|+|none~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",
             "perturbation": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                             "nor_conv_3x3~2|"}
    accuracy = {("argmax", 0): 86.0, ("argmax", 1): 90.0, ("argmax", 2): 88.0,
                ("perturbation", 0): 93.0, ("perturbation", 1): 92.0}
    rows = []
    for parse, cell in cells.items():
        genotype = json.dumps({"family": "nb201", "arch": cell})
        for seed in (0, 1, 2):
            failed = (parse, seed) not in accuracy
            rows.append({"row": f"darts_v1 | {parse}", "label": "darts_v1", "parse": parse, "seed": seed,
                         "variant": "darts_v1", "space": "nb201", "status": "error" if failed else "ok",
                         "error": "RuntimeError: x" if failed else "", "search_seconds": 100.0 + seed,
                         "selection_seconds": 50.0, "genotype": "" if failed else genotype,
                         "nb201_cifar10_test": accuracy.get((parse, seed))})
    out = tmp_path / "nb201"
    out.mkdir()
    pd.DataFrame(rows).to_csv(out / "trials.csv", index=False)
    (out / "manifest.json").write_text(json.dumps({"experiment": "nb201", "title": "NB201", "preset": "quick",
                                                   "seeds": [0, 1, 2], "wall_seconds": 1.0}))
    report(out)
    pairs = pd.read_csv(out / "selection.csv").iloc[0]
    assert pairs["Variant"] == "darts_v1" and pairs["Pairs"] == 2 and pairs["Seeds"] == "0 1"
    assert pairs["Argmax test %"] == "88.00 +- 2.83" and pairs["Perturbation test %"] == "92.50 +- 0.71"
    assert pairs["Difference"] == "4.50 +- 3.54"  # (+7, +2)
    assert pairs["Param-free edges argmax"] == "5.0 +- 0.0" and pairs["Param-free edges perturbation"] == "1.0 +- 0.0"
    assert pairs["Search s"] == "100 +- 1" and pairs["Selection s"] == "50 +- 0"
    import math  # t = 4.5 / (3.536 / sqrt 2) = 1.8 on 1 df (Cauchy): p = 1 - 2 atan(1.8) / pi
    assert float(pairs["Paired p"]) == pytest.approx(1 - 2 * math.atan(1.8) / math.pi, abs=1e-3)
    readme = (out / "README.md").read_text()
    assert "perturbation selection against argmax" in readme and "| darts_v1 | 88.00 +- 2.83 |" in readme
