"""Official checkpoints (xiaomi-automl/FairDARTS, quark0/darts) loaded into our evaluation network,
checked against the official code's own names and numbers.

tests/fixtures/official_networks.json holds facts recorded from the official model code, run outside
this project: fairdarts/model.py + operations.py + utils.py + genotypes.py of xiaomi-automl/FairDARTS
at 270cfc94 and cnn/model.py + operations.py + utils.py + genotypes.py of quark0/darts at f276dd34
(files taken unmodified with `git show HEAD:path`; utils.drop_path needs CUDA only in training and
eval mode never calls it). For each network, built at C=4, 3 cells, 10 classes, auxiliary head on:

  FairDARTS_a, FairDARTS_b   FairDARTS NetworkCIFAR(4, 10, 3, True, genotypes.X, 'threshold') (DCOCell),
                             as its README evaluates FairDARTS-b.tar (--parse_method threshold)
  custom_dco                 the same, with a genotype that has an edge from an ignored node (node 3
                             of the normal cell has no input), two ops on one edge, conv_7x1_1x7
  DARTS_V2                   quark0 NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2) (Cell)

the script (/tmp/official_check/make_fixture.py, not part of the project) listed the state dict's keys
and shapes (stored per module; "BatchNorm2d(C)" stands for the five keys weight, bias, running_mean,
running_var [C] and num_batches_tracked []), filled it with `_fill` below, ran `net.eval()` on
`_input()` and stored the logits to 6 significant digits, with torch 2.14.1 on CPU.

Here the same filled state dict is rebuilt from those names and shapes, saved the way each repo saves
(FairDARTS: a dict with 'state_dict', keys prefixed `module.` when trained under DataParallel;
quark0: the bare state dict), loaded through our code and run: our logits must be the official ones.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks import commands
from benchmarks.cli import main
from fairdarts_core import PUBLISHED_GENOTYPES, Genotype
from fairdarts_core import official_checkpoint as oc
from fairdarts_core.checkpoint import CheckpointError, save_checkpoint
from fairdarts_core.inference import fold_batchnorm, predict
from fairdarts_core.official_checkpoint import (
    OfficialCheckpointError,
    has_auxiliary_head,
    load_official,
    official_state_dict,
    read_checkpoint,
)
from fairdarts_core.spaces.darts.evalnet import NetworkCIFAR

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "official_networks.json").read_text())
NETWORKS = FIXTURE["networks"]
BN_LEAVES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _shapes(modules: dict) -> dict[str, list[int]]:
    """The fixture's {module: {leaf: shape} | "BatchNorm2d(C)"} -> {official key: shape}."""
    shapes = {}
    for module, leaves in modules.items():
        if isinstance(leaves, str):
            c = int(leaves[len("BatchNorm2d("):-1])
            leaves = {leaf: [] if leaf == "num_batches_tracked" else [c] for leaf in BN_LEAVES}
        for leaf, shape in leaves.items():
            shapes[f"{module}.{leaf}"] = shape
    return shapes


def _fill(shapes: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """Seed 0, one randn per float key in sorted key order, scaled so signals survive the cells."""
    torch.manual_seed(0)
    state = {}
    for key in sorted(shapes):
        shape = shapes[key]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
            continue
        t = torch.randn(shape)
        if key.endswith("running_var"):
            t = t.abs() + 0.5
        elif key.endswith("running_mean") or key.endswith("bias"):
            t = 0.1 * t
        elif len(shape) == 1:  # BatchNorm weight
            t = 1.0 + 0.1 * t
        else:  # conv / linear weight
            t = t / math.sqrt(math.prod(shape[1:]))
        state[key] = t
    return state


def _input() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(2, 3, 32, 32)


def _official_state(name: str) -> dict[str, torch.Tensor]:
    return _fill(_shapes(NETWORKS[name]["modules"]))


def _save_official(path: Path, name: str, state: dict | None = None, prefix: bool = True) -> Path:
    """Save as the official repo does: FairDARTS train.py's checkpoint dict, quark0 utils.save()."""
    state = _official_state(name) if state is None else state
    if NETWORKS[name]["repo"] == "quark0/darts":
        torch.save(state, path)
    else:
        torch.save({"epoch": 600, "dur_time": 1.0, "drop_path_prob": 0.2, "best_acc_top1": 97.46,
                    "state_dict": {("module." if prefix else "") + k: v for k, v in state.items()}}, path)
    return path


def _genotype(name: str) -> Genotype:
    return Genotype.from_string(NETWORKS[name]["genotype"])


def _tiny_network(genotype: Genotype, auxiliary: bool = True) -> NetworkCIFAR:
    return NetworkCIFAR(genotype, FIXTURE["init_channels"], FIXTURE["layers"], FIXTURE["num_classes"],
                        auxiliary=auxiliary)


def _load(path: Path, name: str) -> tuple[NetworkCIFAR, oc.OfficialLoad]:
    state = official_state_dict(read_checkpoint(path), path)
    genotype = _genotype(name)
    model = _tiny_network(genotype, auxiliary=has_auxiliary_head(state))
    return model, load_official(model, state, genotype)


def _one_line_error(excinfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


# ----- the official numbers ------------------------------------------------------------------------
def test_fixture_genotypes_are_the_published_ones():
    for name in ("FairDARTS_a", "FairDARTS_b", "DARTS_V2"):
        assert _genotype(name) == PUBLISHED_GENOTYPES[name]


@pytest.mark.parametrize("name,prefix,layout", [("FairDARTS_a", True, "dco"), ("FairDARTS_b", False, "dco"),
                                                ("custom_dco", True, "dco"), ("DARTS_V2", False, "cell")])
def test_our_logits_are_the_official_ones(tmp_path, name, prefix, layout):
    model, loaded = _load(_save_official(tmp_path / "ckpt.tar", name, prefix=prefix), name)
    assert loaded.layout == layout
    expected = torch.tensor(NETWORKS[name]["logits"])
    x = _input()
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x)[0], expected, rtol=1e-4, atol=1e-5)
        # the path `evaluate` scores: BatchNorm folded into the convs, chunked
        torch.testing.assert_close(predict(fold_batchnorm(model), x, chunk=1), expected, rtol=1e-4, atol=1e-5)


def test_weights_of_edges_from_ignored_nodes_are_accepted_unused(tmp_path):
    """custom_dco's normal cell has (sep_conv_3x3, 5, 3) with node 3 ignored: the official DCOCell builds
    it and skips it in forward; ours does not build it. Its keys are the only unused ones."""
    _, loaded = _load(_save_official(tmp_path / "ckpt.tar", "custom_dco"), "custom_dco")
    layers = FIXTURE["layers"]
    normal_cells = [i for i in range(layers) if i not in (layers // 3, 2 * layers // 3)]
    expected = sorted(k for k in _official_state("custom_dco")
                      if any(k.startswith(f"cells.{i}._ops.5.3.0.") for i in normal_cells))
    assert expected and sorted(loaded.unused) == expected


def test_missing_num_batches_tracked_is_fine(tmp_path):
    state = {k: v for k, v in _official_state("FairDARTS_a").items() if not k.endswith("num_batches_tracked")}
    model, _ = _load(_save_official(tmp_path / "old.tar", "FairDARTS_a", state), "FairDARTS_a")
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(_input())[0], torch.tensor(NETWORKS["FairDARTS_a"]["logits"]),
                                   rtol=1e-4, atol=1e-5)


# ----- refusals --------------------------------------------------------------------------------------
def test_a_missing_key_is_a_one_line_error(tmp_path):
    state = _official_state("FairDARTS_a")
    del state["cells.0.preprocess0.op.2.weight"]
    with pytest.raises(OfficialCheckpointError) as excinfo:
        _load(_save_official(tmp_path / "c.tar", "FairDARTS_a", state), "FairDARTS_a")
    _one_line_error(excinfo, "lacks official key cells.0.preprocess0.op.2.weight", "cells.0.preprocess0.2.weight")


def test_an_extra_key_is_a_one_line_error(tmp_path):
    state = _official_state("DARTS_V2")
    state["cells.0._ops.8.op.1.weight"] = torch.zeros(4, 1, 3, 3)
    with pytest.raises(OfficialCheckpointError) as excinfo:
        _load(_save_official(tmp_path / "weights.pt", "DARTS_V2", state), "DARTS_V2")
    _one_line_error(excinfo, "official key cells.0._ops.8.op.1.weight has no counterpart")


def test_a_wrong_shape_is_a_one_line_error(tmp_path):
    state = _official_state("FairDARTS_b")
    state["cells.0._ops.2.0.0.op.5.weight"] = torch.zeros(4, 1, 5, 5)
    with pytest.raises(OfficialCheckpointError) as excinfo:
        _load(_save_official(tmp_path / "c.tar", "FairDARTS_b", state), "FairDARTS_b")
    _one_line_error(excinfo, "official key cells.0._ops.2.0.0.op.5.weight has shape [4, 1, 5, 5]",
                    "cells.0.ops.0.1.1.weight [4, 1, 3, 3]")


def test_a_checkpoint_of_another_genotype_is_refused(tmp_path):
    path = _save_official(tmp_path / "c.tar", "FairDARTS_a")
    state = official_state_dict(read_checkpoint(path), path)
    model = _tiny_network(PUBLISHED_GENOTYPES["FairDARTS_b"])
    with pytest.raises(OfficialCheckpointError) as excinfo:
        load_official(model, state, PUBLISHED_GENOTYPES["FairDARTS_b"])
    assert "\n" not in str(excinfo.value)


def test_a_genotype_the_official_dcocell_computes_otherwise_is_refused():
    """The official DCOCell concatenates its nodes in the order the genotype first names them."""
    genotype = Genotype.from_dict({"normal": [["sep_conv_3x3", 3, 0], ["sep_conv_3x3", 2, 0]], "normal_concat": [2, 3],
                                   "reduce": [["max_pool_3x3", 2, 0]], "reduce_concat": [2]})
    model = _tiny_network(genotype)
    with pytest.raises(OfficialCheckpointError) as excinfo:
        load_official(model, {"stem.0.weight": torch.zeros(12, 3, 3, 3)}, genotype)
    _one_line_error(excinfo, "computes the genotype's normal cell differently")


def test_a_pickle_that_needs_code_is_refused(tmp_path):
    path = tmp_path / "model_best.pth.tar"
    torch.save({"state_dict": _official_state("FairDARTS_a"), "args": argparse.Namespace(arch="FairDARTS_a")}, path)
    with pytest.raises(CheckpointError) as excinfo:
        read_checkpoint(path)
    _one_line_error(excinfo, "needs unpickling code (argparse.Namespace)", "weights_only=True")


def test_our_checkpoints_are_not_official(tmp_path):
    assert official_state_dict({"kind": "train", "model": {"stem.0.weight": torch.zeros(1)}}) is None
    assert official_state_dict({"stem.0.weight": torch.zeros(1), "cells.0.x": torch.zeros(1)}) is not None
    assert official_state_dict({"epoch": 3}) is None


# ----- the CLI ---------------------------------------------------------------------------------------
def _cli(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("content", ["namespace", "corrupt", "missing"])
def test_cli_refuses_a_bad_file_with_one_line(tmp_path, capsys, content):
    path = tmp_path / "FairDARTS-a.tar"
    if content == "namespace":
        torch.save({"state_dict": {}, "args": argparse.Namespace(arch="FairDARTS_a")}, path)
    elif content == "corrupt":
        path.write_bytes(b"not a checkpoint")
    code, out, err = _cli(capsys, "evaluate", "--genotype", "FairDARTS_a", "--checkpoint", path, "--device", "cpu")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("darts-bench: error: checkpoint")
    assert {"namespace": "needs unpickling code", "corrupt": "corrupt", "missing": "does not exist"}[content] in err


def test_cli_refuses_an_official_checkpoint_of_another_size(tmp_path, capsys, monkeypatch, tiny_set):
    """The paper network (C=36) does not take the C=4 checkpoint: the first differing key is named."""
    monkeypatch.setattr(commands, "_data", lambda args: (None, tiny_set))
    path = _save_official(tmp_path / "FairDARTS-a.tar", "FairDARTS_a")
    code, out, err = _cli(capsys, "evaluate", "--genotype", "FairDARTS_a", "--checkpoint", path, "--device", "cpu")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "official key" in err and "C=36, 20 cells" in err


def test_cli_evaluates_an_official_checkpoint(tmp_path, capsys, monkeypatch, tiny_set):
    """The whole path at the fixture's size (the paper network shrunk to C=4, 3 cells) on 64 images."""
    monkeypatch.setattr(commands, "_data", lambda args: (None, tiny_set))
    monkeypatch.setitem(oc.PAPER_NETWORK, "init_channels", FIXTURE["init_channels"])
    monkeypatch.setitem(oc.PAPER_NETWORK, "layers", FIXTURE["layers"])
    path = _save_official(tmp_path / "FairDARTS-b.tar", "FairDARTS_b")
    code, out, err = _cli(capsys, "evaluate", "--genotype", "FairDARTS_b", "--checkpoint", path, "--device", "cpu")
    assert code == 0 and err == ""
    assert "official checkpoint (FairDARTS DCOCell names, after epoch 600)" in out
    code, out, _ = _cli(capsys, "evaluate", "--genotype", "FairDARTS_b", "--checkpoint", path, "--device", "cpu",
                        "--json")
    record = json.loads(out)
    assert code == 0 and record["official"] is True and record["epoch"] == 600 and record["dataset"] == "synthetic"
    # the same accuracy as the official logits' network scores by hand
    model, _ = _load(path, "FairDARTS_b")
    with torch.no_grad():
        logits = model.eval()(tiny_set.images.float().div(255).sub(0.5).div(0.25))[0]
    assert record["test_acc"] == pytest.approx(100.0 * (logits.argmax(1) == tiny_set.labels).float().mean().item())


def test_cli_still_evaluates_our_checkpoint_kind_check(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "checkpoint.pt", {"kind": "search", "epoch": 0})
    code, _, err = _cli(capsys, "evaluate", "--genotype", "FairDARTS_a", "--checkpoint", path, "--device", "cpu")
    assert code == 2 and "is a 'search' checkpoint, expected 'train'" in err and err.count("\n") == 1
