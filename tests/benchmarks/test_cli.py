"""darts-bench, called in-process through benchmarks.cli.main: every subcommand on the happy path at
the smoke preset, and every bad input ending in exit code 2 with exactly one line on stderr."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.cli import main
from fairdarts_core import PARSE_METHODS, PUBLISHED_GENOTYPES, Genotype, genotype_mask, parse_genotype, profile_genotype
from fairdarts_core.spaces.darts import EDGES, PRIMITIVES
from tests.conftest import assert_png, snapshot
from tests.nb201_fixture import ALL_SKIP, synthetic_values, write_table

FAIR_A_FLOPS_M = 373  # FairDARTS-a as published (M multiply-adds, C=36, 20 cells); thop here gives 371.6
SEARCH_FIGURES = {"weights_normal.png", "weights_reduce.png", "weights_final.png", "skip_counts.png",
                  "weights_histogram.png", "genotype.png"}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one in-process call; --help's SystemExit becomes its code."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def quiet_cli(*argv) -> tuple[int, str]:
    """(exit code, stdout) for module-scoped fixtures, where capsys is not available."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        return main([str(a) for a in argv]), stdout.getvalue()


def assert_one_line_error(code: int, err: str, *needles: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one stderr line, got {lines}"
    for needle in needles:
        assert needle.lower() in lines[0].lower(), f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def edge_set(edges) -> set[tuple[str, int, int]]:
    return {tuple(e) for e in edges}


# ----- genotypes / profile -------------------------------------------------------------------
def test_genotypes_json_lists_every_published_genotype(capsys):
    code, out, err = run_cli(capsys, "genotypes", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list(PUBLISHED_GENOTYPES)
    for row in rows:
        assert row["flops_m"] > 50, row
        assert 0 < row["params_m"] < row["params_with_aux_m"], row
    by_name = {r["name"]: r for r in rows}
    assert by_name["FairDARTS_a"]["flops_m"] == pytest.approx(FAIR_A_FLOPS_M, rel=0.01)


@pytest.mark.parametrize("argv", [["genotypes"], ["--help"]])
def test_listing_genotypes_and_help_do_not_import_torch(argv):
    """`darts-bench genotypes` and `--help` answer without importing torch (most of a command's start-up)."""
    import subprocess
    import sys

    code = ("import sys, contextlib, io\nfrom benchmarks.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        rc = main({argv!r})\n"
            "    except SystemExit as end:\n        rc = end.code\n"
            "print(rc, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["0", "False"], done.stderr[-2000:]


def test_profile_published_name_json(capsys):
    code, out, err = run_cli(capsys, "profile", "FairDARTS_a", "--json")
    assert code == 0, err
    prof = json.loads(out)
    assert set(prof) == {"flops_m", "params_m", "params_with_aux_m"}
    assert prof["flops_m"] == pytest.approx(FAIR_A_FLOPS_M, rel=0.01)
    assert 0 < prof["params_m"] < prof["params_with_aux_m"]


@pytest.mark.parametrize("name", ["FairDARTS_a", "DARTS_V2"])  # (op, to, from) style and (op, from) pairs
@pytest.mark.parametrize("form", ["repr", "json"])
def test_profile_of_a_file_matches_the_library(capsys, tmp_path, name, form):
    genotype = PUBLISHED_GENOTYPES[name]
    path = tmp_path / f"{name}.{'txt' if form == 'repr' else 'json'}"
    path.write_text(genotype.to_string() if form == "repr" else genotype.to_json(), encoding="utf-8")
    code, out, err = run_cli(capsys, "profile", path, "--json")
    assert code == 0, err
    assert json.loads(out) == pytest.approx(profile_genotype(genotype))


def test_profile_text_output(capsys):
    code, out, err = run_cli(capsys, "profile", "FairDARTS_a", "--init-channels", "16", "--layers", "8")
    assert code == 0, err
    expected = profile_genotype(PUBLISHED_GENOTYPES["FairDARTS_a"], 16, 8)
    assert f"{expected['flops_m']:.1f}M FLOPs" in out and f"{expected['params_m']:.3f}M params" in out


# ----- parse ---------------------------------------------------------------------------------
def random_weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {cell: rng.uniform(size=(len(EDGES), len(PRIMITIVES))) for cell in ("normal", "reduce")}


def write_weights_json(path: Path, weights: dict[str, np.ndarray], primitives=PRIMITIVES) -> Path:
    path.write_text(json.dumps({"normal": weights["normal"].tolist(), "reduce": weights["reduce"].tolist(),
                                "primitives": list(primitives)}), encoding="utf-8")
    return path


def write_weights_npy(folder: Path, weights: dict[str, np.ndarray]) -> Path:
    folder.mkdir()
    np.save(folder / "normal_weight.npy", weights["normal"])
    np.save(folder / "reduce_weight.npy", weights["reduce"])
    return folder


@pytest.mark.parametrize("method", PARSE_METHODS)
def test_parse_json_file_and_npy_folder_agree_with_the_library(capsys, tmp_path, method):
    weights = random_weights(3)
    expected = parse_genotype(weights["normal"], weights["reduce"], method, 0.6, PRIMITIVES)
    parsed = []
    for source in (write_weights_json(tmp_path / "alphas.json", weights), write_weights_npy(tmp_path / "npy", weights)):
        code, out, err = run_cli(capsys, "parse", source, "--method", method, "--threshold", "0.6", "--json")
        assert code == 0, err
        parsed.append(Genotype.from_json(out))
    assert parsed[0] == parsed[1] == expected
    assert parsed[0].normal, "the random weights must leave something to parse"


def test_parse_threshold_sparse_recovers_a_genotype_from_its_mask(capsys, tmp_path):
    genotype = PUBLISHED_GENOTYPES["FairDARTS_a"]  # node 3 of its normal cell has no input
    path = write_weights_json(tmp_path / "mask.json", genotype_mask(genotype, PRIMITIVES))
    code, out, err = run_cli(capsys, "parse", path, "--method", "threshold_sparse", "--json")
    assert code == 0, err
    parsed = Genotype.from_json(out)
    for cell in ("normal", "reduce"):
        assert edge_set(parsed.cell(cell)[0]) == edge_set(genotype.cell(cell)[0])


def test_parse_threshold_option_is_applied(capsys, tmp_path):
    genotype = PUBLISHED_GENOTYPES["FairDARTS_a"]
    masks = genotype_mask(genotype, PRIMITIVES)
    path = write_weights_json(tmp_path / "w.json", {c: 0.7 * m for c, m in masks.items()})  # kept ops at 0.7
    counts = {}
    for threshold in ("0.6", "0.85"):
        code, out, err = run_cli(capsys, "parse", path, "--method", "threshold_sparse", "--threshold", threshold,
                                 "--json")
        assert code == 0, err
        counts[threshold] = len(Genotype.from_json(out).normal)
    assert counts == {"0.6": len(genotype.normal), "0.85": 0}


def test_parse_darts_text_output_is_a_genotype_string(capsys, tmp_path):
    weights = random_weights(5)
    code, out, err = run_cli(capsys, "parse", write_weights_npy(tmp_path / "npy", weights), "--method", "darts")
    assert code == 0, err
    parsed = Genotype.from_string(out.strip())
    assert parsed == parse_genotype(weights["normal"], weights["reduce"], "darts")
    assert len(parsed.normal) == len(parsed.reduce) == 8  # DARTS: two inputs for each of 4 nodes


# ----- train / evaluate ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    assert quiet_cli("train", "--genotype", "FairDARTS_a", "--preset", "smoke", "--out", out)[0] == 0
    return out


def test_train_writes_its_run_folder(trained):
    assert {p.name for p in trained.iterdir()} >= {"history.csv", "result.json", "checkpoint.pt"}
    history = read_rows(trained / "history.csv")
    assert [int(r["epoch"]) for r in history] == [0, 1]  # smoke: 2 epochs
    result = json.loads((trained / "result.json").read_text())
    assert result["test_acc"] == pytest.approx(float(history[-1]["test_acc"]))
    assert result["flops_m"] == pytest.approx(FAIR_A_FLOPS_M, rel=0.01)
    assert Genotype.from_dict(result["genotype"]) == PUBLISHED_GENOTYPES["FairDARTS_a"]
    assert result["epochs"] == 2 and result["config"]["init_channels"] == 4


def test_evaluate_reads_the_checkpoint(capsys, trained):
    code, out, err = run_cli(capsys, "evaluate", "--genotype", "FairDARTS_a", "--checkpoint",
                             trained / "checkpoint.pt", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["epoch"] == 2 and report["dataset"] == "digits-test"
    assert 0.0 <= report["test_acc"] <= 100.0 and report["test_loss"] > 0


def test_evaluate_reports_the_same_accuracy_as_the_last_history_row(capsys, trained):
    code, out, err = run_cli(capsys, "evaluate", "--genotype", "FairDARTS_a", "--checkpoint",
                             trained / "checkpoint.pt", "--json")
    assert code == 0, err
    last = read_rows(trained / "history.csv")[-1]
    assert json.loads(out)["test_acc"] == pytest.approx(float(last["test_acc"]))


def test_train_resume_of_a_finished_run_does_not_retrain(capsys, trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    checkpoint = (run / "checkpoint.pt").read_bytes()
    code, out, err = run_cli(capsys, "train", "--genotype", "FairDARTS_a", "--preset", "smoke", "--out", run,
                             "--resume")
    assert code == 0, err
    assert (run / "checkpoint.pt").read_bytes() == checkpoint  # any trained epoch would rewrite it
    before, after = read_rows(trained / "history.csv"), read_rows(run / "history.csv")
    assert [(r["epoch"], r["test_acc"]) for r in after] == [(r["epoch"], r["test_acc"]) for r in before]
    result = json.loads((run / "result.json").read_text())
    assert result["test_acc"] == pytest.approx(float(before[-1]["test_acc"]))


def test_train_refuses_a_folder_holding_a_run(capsys, trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    files = snapshot(run)
    code, _, err = run_cli(capsys, "train", "--genotype", "FairDARTS_b", "--preset", "smoke", "--out", run)
    assert_one_line_error(code, err, "--resume")
    assert snapshot(run) == files


def test_evaluate_refuses_a_checkpoint_of_another_genotype(capsys, trained):
    code, _, err = run_cli(capsys, "evaluate", "--genotype", "FairDARTS_b", "--checkpoint", trained / "checkpoint.pt")
    assert_one_line_error(code, err, "another genotype")


# ----- search --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("search") / "fair"
    code, stdout = quiet_cli("search", "--variant", "fair_darts", "--preset", "smoke", "--out", out)
    assert code == 0
    return out, stdout


def test_search_writes_its_run_folder(searched):
    out, stdout = searched
    assert {p.name for p in out.iterdir()} >= {"genotype.json", "alphas.json", "history.csv", "checkpoint.pt",
                                               "figures"}
    genotype = Genotype.from_json((out / "genotype.json").read_text())
    printed = [line for line in stdout.splitlines() if line.startswith("genotype: ")]
    assert Genotype.from_string(printed[-1][len("genotype: "):]) == genotype
    alphas = json.loads((out / "alphas.json").read_text())
    assert alphas["variant"] == "fair_darts" and alphas["activation"] == "sigmoid"
    for cell in ("normal", "reduce"):
        assert np.asarray(alphas[cell]).shape == (len(EDGES), len(alphas["primitives"]))
        assert np.asarray(alphas["history"][cell]).shape == (2, len(EDGES), len(alphas["primitives"]))
    history = read_rows(out / "history.csv")
    assert [int(r["epoch"]) for r in history] == [0, 1]  # smoke: 2 epochs


def test_search_draws_its_figures(searched):
    figures = searched[0] / "figures"
    assert {p.name for p in figures.glob("*.png")} == SEARCH_FIGURES
    for path in figures.glob("*.png"):
        assert_png(path)


def test_search_alphas_parse_back_to_its_genotype(capsys, searched):
    out = searched[0]
    code, stdout, err = run_cli(capsys, "parse", out / "alphas.json", "--method", "threshold_sparse", "--json")
    assert code == 0, err
    assert Genotype.from_json(stdout) == Genotype.from_json((out / "genotype.json").read_text())


def test_search_random_darts_samples_count_genotypes(capsys, tmp_path):
    out = tmp_path / "random"
    code, _, err = run_cli(capsys, "search", "--variant", "random_darts", "--count", "2", "--flops-floor-m", "400",
                           "--out", out)
    assert code == 0, err
    lines = (out / "genotypes.jsonl").read_text().splitlines()
    assert len(lines) == 2
    genotypes = [Genotype.from_json(line) for line in lines]
    assert genotypes[0] != genotypes[1]
    for g in genotypes:
        assert g.skip_count("normal") == 2  # random_darts default
        assert profile_genotype(g)["flops_m"] >= 400
    assert Genotype.from_json((out / "genotype.json").read_text()) == genotypes[0]


# ----- plot-cell -----------------------------------------------------------------------------
def test_plot_cell_writes_png(capsys, tmp_path):
    path = tmp_path / "fair_a.png"
    code, out, err = run_cli(capsys, "plot-cell", "FairDARTS_a", "--out", path)
    assert code == 0, err
    assert_png(path)
    assert str(path) in out


# ----- help ----------------------------------------------------------------------------------
def test_top_level_help(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for command in ("genotypes", "profile", "parse", "search", "train", "evaluate", "plot-cell", "experiment",
                    "report"):
        assert command in out
    assert "--preset quick" in out


def test_search_help_lists_the_presets(capsys):
    code, out, _ = run_cli(capsys, "search", "--help")
    assert code == 0
    for preset in ("paper", "quick", "smoke"):
        assert preset in out


# ----- bad input: exit code 2, one line on stderr, no traceback ---------------------------------
def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD_OP_REPR = ("Genotype(normal=[('conv_9x9', 2, 0), ('sep_conv_3x3', 2, 1)], normal_concat=[2], "
               "reduce=[('max_pool_3x3', 2, 0), ('max_pool_3x3', 2, 1)], reduce_concat=[2])")
BAD_OP_JSON = json.dumps({"normal": [["conv_9x9", 2, 0]], "normal_concat": [2], "reduce": [["max_pool_3x3", 2, 0]],
                          "reduce_concat": [2]})

BAD_INPUTS = {
    # id: (argv built from tmp_path, words the one stderr line must hold)
    "unknown-subcommand": (lambda t: ["frobnicate"], ["frobnicate"]),
    "no-subcommand": (lambda t: [], ["COMMAND"]),
    "unknown-variant": (lambda t: ["search", "--variant", "nope", "--preset", "smoke", "--out", t / "o"],
                        ["nope", "fair_darts"]),
    "unknown-genotype-name": (lambda t: ["profile", "NoSuchNet"], ["NoSuchNet", "FairDARTS_a"]),
    "unknown-genotype-for-train": (lambda t: ["train", "--genotype", "NoSuchNet", "--preset", "smoke", "--out",
                                              t / "o"], ["NoSuchNet"]),
    "malformed-genotype-repr": (lambda t: ["profile", _file(t, "g.txt", "Genotype(normal=[('sep_conv_3x3', 0)")],
                                ["Genotype"]),
    "malformed-genotype-json": (lambda t: ["profile", _file(t, "g.json", '{"normal": [')], ["JSON"]),
    "python-in-genotype-file": (lambda t: ["profile", _file(t, "g.txt", "__import__('os').system('true')")],
                                ["Genotype"]),
    "unknown-op-repr": (lambda t: ["profile", _file(t, "g.txt", BAD_OP_REPR)], ["conv_9x9"]),
    "unknown-op-json": (lambda t: ["plot-cell", _file(t, "g.json", BAD_OP_JSON), "--out", t / "x.png"],
                        ["conv_9x9"]),
    "cifar10-without-data-dir": (lambda t: ["train", "--genotype", "FairDARTS_a", "--preset", "smoke",
                                            "--dataset", "cifar10", "--out", t / "o"], ["cifar10", "--data-dir"]),
    "cifar10-missing-data-dir": (lambda t: ["search", "--variant", "fair_darts", "--preset", "smoke", "--dataset",
                                            "cifar10", "--data-dir", t / "nowhere", "--out", t / "o"],
                                 ["does not exist"]),
    "experiment-cifar10-without-data-dir": (lambda t: ["experiment", "comparison", "--preset", "smoke", "--dataset",
                                                       "cifar10", "--out", t / "o"], ["--data-dir"]),
    "epochs-0": (lambda t: ["train", "--genotype", "FairDARTS_a", "--preset", "smoke", "--epochs", "0",
                            "--out", t / "o"], ["--epochs"]),
    "epochs-not-a-number": (lambda t: ["search", "--variant", "fair_darts", "--epochs", "two", "--out", t / "o"],
                            ["--epochs"]),
    "threshold-2": (lambda t: ["parse", t, "--method", "threshold_sparse", "--threshold", "2"], ["--threshold"]),
    "search-threshold-2": (lambda t: ["search", "--variant", "fair_darts", "--threshold", "2", "--out", t / "o"],
                           ["--threshold"]),
    "unknown-parse-method": (lambda t: ["parse", t, "--method", "bogus"], ["--method"]),
    "option-of-another-variant": (lambda t: ["search", "--variant", "darts", "--zero-one-weight", "1",
                                             "--preset", "smoke", "--out", t / "o"], ["--zero-one-weight"]),
    "missing-out": (lambda t: ["search", "--variant", "fair_darts"], ["--out"]),
    "corrupt-checkpoint": (lambda t: ["evaluate", "--genotype", "FairDARTS_a", "--checkpoint",
                                      _file(t, "c.pt", "not a checkpoint")], ["corrupt"]),
    "missing-checkpoint": (lambda t: ["evaluate", "--genotype", "FairDARTS_a", "--checkpoint", t / "none.pt"],
                           ["does not exist"]),
    "weights-wrong-shape": (lambda t: ["parse", write_weights_json(t / "w.json", {
        "normal": np.ones((len(EDGES), 5)), "reduce": np.ones((len(EDGES), 5))}, PRIMITIVES), "--method", "darts"],
        ["shape"]),
    "weights-wrong-edge-count": (lambda t: ["parse", write_weights_npy(t / "npy", {
        "normal": np.ones((13, len(PRIMITIVES))), "reduce": np.ones((13, len(PRIMITIVES)))}), "--method", "darts"],
        ["13"]),
    "weights-folder-without-npy": (lambda t: ["parse", t, "--method", "darts"], ["normal_weight.npy"]),
    "weights-not-json": (lambda t: ["parse", _file(t, "w.json", "[1, 2"), "--method", "darts"], ["JSON"]),
    "plot-cell-not-png": (lambda t: ["plot-cell", "FairDARTS_a", "--out", t / "cell.jpg"], [".png"]),
    "unknown-experiment": (lambda t: ["experiment", "nope"], ["nope", "stability"]),
    "report-nonexistent": (lambda t: ["report", "/nonexistent"], ["/nonexistent"]),
    "report-folder-without-manifest": (lambda t: ["report", t], ["manifest.json"]),
    "unknown-device": (lambda t: ["train", "--genotype", "FairDARTS_a", "--preset", "smoke", "--device", "tpu",
                                  "--out", t / "o"], ["tpu"]),
    "nb201-table-missing": (lambda t: ["profile", ALL_SKIP, "--nb201-table", t / "none.csv"], ["no NB201 table"]),
    "nb201-table-without-arch": (lambda t: ["profile", ALL_SKIP, "--nb201-table", _file(t, "t.csv", "index,x\n0,1\n")],
                                 ["no 'arch' column"]),
    "nb201-table-darts-genotype": (lambda t: ["profile", "FairDARTS_a", "--nb201-table", write_table(t / "t.csv", 3)],
                                   ["NB201 cells", "darts genotype"]),
    "nb201-table-cell-missing": (lambda t: ["profile", ALL_SKIP, "--nb201-table", write_table(t / "t.csv", 3)],
                                 ["is not in the NB201 table"]),
    "nb201-table-darts-search": (lambda t: ["search", "--variant", "darts_v1", "--preset", "smoke", "--nb201-table",
                                            write_table(t / "t.csv", 3), "--out", t / "o"], ["--space nb201"]),
    "folder-without-test": (lambda t: ["search", "--variant", "darts_v1", "--space", "nb201", "--preset", "smoke",
                                       "--dataset", "folder", "--data-dir", image_folder(t / "imgs", test=False),
                                       "--out", t / "o"], ["test is missing"]),
    "folder-corrupt-jpeg": (lambda t: ["train", "--genotype", ALL_SKIP, "--preset", "smoke", "--dataset", "folder",
                                       "--data-dir", image_folder(t / "imgs", corrupt=True), "--out", t / "o"],
                            ["cannot read image", "bad.jpg"]),
}


def image_folder(root: Path, test: bool = True, corrupt: bool = False) -> Path:
    """A tiny ImageFolder tree: 2 classes x 3 random 32x32 PNGs per split (optionally no test/, or one garbage
    JPEG)."""
    gen = np.random.default_rng(0)
    for split in ("train", "test") if test else ("train",):
        for name in ("ant", "bee"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(gen.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    if corrupt:
        (root / "train" / "bee" / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return root


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_code_2(capsys, tmp_path, case):
    build, needles = BAD_INPUTS[case]
    workdir = tmp_path / "work"
    workdir.mkdir()
    code, out, err = run_cli(capsys, *build(workdir))
    assert_one_line_error(code, err, *needles)
    assert not (workdir / "o").exists(), "a refused command must not create its --out folder"
    assert not (workdir / "cell.jpg").exists() and not (workdir / "x.png").exists()


def test_train_amp_on_the_cpu_says_it_does_not_apply(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "--genotype", "FairDARTS_a", "--preset", "smoke", "--epochs", "1",
                             "--train-limit", "64", "--test-limit", "32", "--device", "cpu", "--amp",
                             "--out", tmp_path / "run")
    assert code == 0, err
    assert "--amp applies on CUDA only" in out + err
    assert json.loads((tmp_path / "run" / "result.json").read_text())["config"]["amp"] is False


def test_search_help_for_one_variant_lists_only_its_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--variant", "pc_darts", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "pc_darts options" in out
    assert "--partial-k" in out and "--zero-one-weight" not in out
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    everything = capsys.readouterr().out
    assert "--partial-k" in everything and "--zero-one-weight" in everything


# ----- NAS-Bench-201 ground truth and image folders ---------------------------------------------------
def test_profile_with_an_nb201_table_prints_every_column(capsys, nb201_table_file):
    code, out, _ = run_cli(capsys, "profile", ALL_SKIP, "--nb201-table", nb201_table_file, "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data["nb201"]) == {"index", "params_m", "cifar10_test", "cifar10_valid", "cifar10_valid_test"}
    index = int(data["nb201"]["index"])
    assert data["nb201"] == pytest.approx({"index": index, **synthetic_values(("skip_connect",) * 6, index)})
    assert data["flops_m"] > 0 and data["nb201_table"] == str(nb201_table_file.resolve())
    code, out, _ = run_cli(capsys, "profile", ALL_SKIP, "--space", "nb201", "--nb201-table", nb201_table_file)
    assert code == 0 and f"cifar10_test {data['nb201']['cifar10_test']:g}" in out


def test_nb201_search_records_ground_truth_per_epoch(capsys, tmp_path, nb201_table_file):
    from fairdarts_core.nb201_table import open_table

    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "search", "--variant", "darts_v1", "--space", "nb201", "--preset", "smoke",
                              "--epochs", "2", "--train-limit", "32", "--nb201-table", nb201_table_file, "--out", out)
    assert code == 0 and "nb201_cifar10_test" in stdout
    table = open_table(nb201_table_file)
    with (out / "history.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    for row in rows:  # each epoch's parsed cell, looked up
        truth = table.lookup(row["genotype"])
        assert float(row["nb201_cifar10_test"]) == pytest.approx(truth["cifar10_test"])
        assert float(row["nb201_cifar10_valid"]) == pytest.approx(truth["cifar10_valid"])
    assert (out / "figures" / "ground_truth.png").is_file()
    assert json.loads((out / "search.json").read_text())["nb201_table"] == str(nb201_table_file.resolve())


def test_search_on_an_image_folder_records_its_normalization(capsys, tmp_path):
    root = image_folder(tmp_path / "imgs")
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "search", "--variant", "darts_v1", "--space", "nb201", "--preset", "smoke",
                              "--epochs", "1", "--batch-size", "2", "--dataset", "folder", "--data-dir", root,
                              "--cache-dir", tmp_path / "cache", "--out", out)
    assert code == 0, stdout
    record = json.loads((out / "search.json").read_text())
    assert record["dataset"] == "folder-train" and record["normalization"]["images"] == 6
    assert len(record["normalization"]["mean"]) == 3 and len(list((tmp_path / "cache").iterdir())) == 1
