"""lookup() against a tiny NATS-Bench topology benchmark written here in the package's own on-disk format.

`_write_benchmark` is a port of the fixture writer that was checked against the official API
(nats_bench 1.8: `create(dir, 'tss', fast_mode=True)`, `create(file, 'tss', fast_mode=False)`): bz2 +
pickle protocol 4; meta = all 15,625 strings in the benchmark's index order (the gen_all order, then
random.seed(88) shuffle, exps/NATS-Bench/tss-collect.py:395-418; identical to the official meta, where
the best CIFAR-10 cell is index 9930 and all-skip 1835); one file per architecture holding the hp '200'
ArchResults state (seeds 777/888/999, the real files' eval-set layout). The accuracies are synthetic:
seed offsets -0.25/0/+0.25 around a per-(arch, dataset, set) base, so the seed mean is the base.
"""

from __future__ import annotations

import bz2
import collections
import itertools
import pickle
import random
import sys

import pytest

from fairdarts_core.nats_lookup import DATASETS, SPLITS, lookup

pytest.importorskip("nats_bench", reason="needs the nats_bench package (pip install nats_bench)")

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
EVAL_SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
             "cifar100": ("ori-test", "x-valid", "x-test"), "ImageNet16-120": ("ori-test", "x-valid", "x-test")}
CURVE_SET = {"cifar10-valid": "x-valid", "cifar10": "ori-test", "cifar100": "ori-test", "ImageNet16-120": "ori-test"}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
SEED_OFFSET = {777: -0.25, 888: 0.0, 999: 0.25}
EPOCHS = 200


def _all_archs() -> list[str]:
    archs = ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops) for ops in itertools.product(OPS, repeat=6)]
    random.Random(88).shuffle(archs)  # = random.seed(88); random.shuffle(archs)
    return archs


def _base(index: int, dataset: str, setname: str) -> float:
    """The synthetic final accuracy (%) before the seed offset."""
    start = {"cifar10-valid": 80.0, "cifar10": 85.0, "cifar100": 60.0, "ImageNet16-120": 30.0}[dataset]
    return start + {"train": 10.0, "x-valid": 0.0, "x-test": -0.5, "ori-test": -1.0}[setname] + (index % 7) * 0.5


def _result(index: int, arch: str, dataset: str, seed: int) -> dict:
    """One ResultsCount state (nats_bench api_utils.py ResultsCount fields)."""
    last, off = EPOCHS - 1, SEED_OFFSET[seed]
    train = {i: (_base(index, dataset, "train") + off) * (i + 1) / EPOCHS for i in range(EPOCHS)}
    acc, loss, times = {}, {}, {}
    for name in EVAL_SETS[dataset]:
        final = _base(index, dataset, name) + off
        for i in range(EPOCHS):
            times[f"{name}@{i}"] = 0.5
            if name == CURVE_SET[dataset] or i == last:  # hp '200': one per-epoch curve, the rest at the end
                acc[f"{name}@{i}"] = final * (i + 1) / EPOCHS
                loss[f"{name}@{i}"] = (100 - acc[f"{name}@{i}"]) / 40
    return {"name": dataset, "net_state_dict": None, "train_acc1es": train, "train_acc5es": None,
            "train_losses": {i: (100 - a) / 40 for i, a in train.items()},
            "train_times": collections.OrderedDict((i, 1.0) for i in range(EPOCHS)),
            "arch_config": {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": CLASSES[dataset]},
            "params": 0.0, "flop": 0.0, "seed": f"{seed:04d}", "epochs": EPOCHS, "latency": [0.01],
            "eval_names": list(EVAL_SETS[dataset]), "eval_acc1es": acc, "eval_times": times, "eval_losses": loss}


def _arch_results(index: int, arch: str) -> dict:
    """One ArchResults state, hp '200'."""
    return {"arch_index": index, "arch_str": arch, "clear_net_done": True,
            "dataset_seed": {d: sorted(SEED_OFFSET) for d in DATASETS},
            "all_results": {(d, s): _result(index, arch, d, s) for d in DATASETS for s in SEED_OFFSET}}


def _save(obj, path) -> None:
    with bz2.BZ2File(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=4)


@pytest.fixture(scope="module")
def nats_files(tmp_path_factory):
    """(directory for fast_mode=True, single file for fast_mode=False, {arch: index})."""
    out = tmp_path_factory.mktemp("nats")
    archs = _all_archs()
    index = {a: archs.index(a) for a in (BEST, SKIP)}
    simple = out / "NATS-tss-v1_0-3ffb9-simple"
    simple.mkdir()
    _save({"meta_archs": archs, "total_archs": len(archs), "arch2infos": None, "evaluated_indexes": set()},
          simple / "meta.pickle.pbz2")
    infos = {}
    for a, i in index.items():
        infos[i] = collections.OrderedDict([("200", _arch_results(i, a))])
        _save(infos[i], simple / f"{i:06d}.pickle.pbz2")
    single = out / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    _save({"meta_archs": archs, "total_archs": len(archs), "arch2infos": infos, "evaluated_indexes": set(infos)},
          single)
    return simple, single, index


def test_the_fixture_uses_the_benchmark_indices(nats_files):
    assert nats_files[2] == {BEST: 9930, SKIP: 1835}


@pytest.mark.parametrize("form", ["directory", "file"])
@pytest.mark.parametrize("arch", [BEST, SKIP])
def test_lookup_returns_the_seed_means_naming_each_split(nats_files, form, arch):
    simple, single, index = nats_files
    result = lookup(arch, simple if form == "directory" else single)
    i = index[arch]
    assert (result["arch"], result["index"], result["hp"]) == (arch, i, "200")
    expected = {
        "cifar10-valid": {"valid": _base(i, "cifar10-valid", "x-valid"), "test": _base(i, "cifar10-valid", "ori-test")},
        "cifar10": {"test": _base(i, "cifar10", "ori-test")},
        **{d: {"valid": _base(i, d, "x-valid"), "test": _base(i, d, "x-test"), "valtest": _base(i, d, "ori-test")}
           for d in ("cifar100", "ImageNet16-120")},
    }
    assert result["accuracy"].keys() == expected.keys()
    for dataset, splits in expected.items():
        assert result["accuracy"][dataset] == pytest.approx(splits, abs=1e-9)
    assert result["splits"] == SPLITS
    assert result["splits"]["cifar10-valid"]["valid"].startswith("x-valid")
    assert result["splits"]["cifar100"]["test"].startswith("x-test")


def test_one_dataset_and_a_genotype_work_too(nats_files):
    from fairdarts_core.genotype import Genotype

    result = lookup(Genotype.from_string(BEST), nats_files[0], datasets=["cifar10"])
    assert list(result["accuracy"]) == ["cifar10"] and list(result["splits"]) == ["cifar10"]


def test_errors_are_one_line_value_errors(nats_files, tmp_path, monkeypatch):
    simple = nats_files[0]
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=f"no NATS-Bench topology file or directory at {missing}"):
        lookup(BEST, missing)
    with pytest.raises(ValueError, match="unknown NATS-Bench dataset 'cifar11'"):
        lookup(BEST, simple, datasets=["cifar11"])
    absent = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # in the meta, but no results file here
    with pytest.raises(ValueError, match="holds no hp=200 cifar10-valid results for index") as err:
        lookup(absent, simple)
    assert "\n" not in str(err.value)
    (tmp_path / "junk.pbz2").write_bytes(b"not a benchmark")
    with pytest.raises(ValueError, match="cannot read .* as a NATS-Bench topology benchmark"):
        lookup(BEST, tmp_path / "junk.pbz2")
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # as if not installed
    with pytest.raises(ValueError, match="pip install nats_bench"):
        lookup(BEST, simple)
