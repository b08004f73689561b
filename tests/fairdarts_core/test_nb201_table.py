"""The NB201 ground-truth table: look-ups, errors, percentiles and the whole-space summary, on the synthetic
table of tests/nb201_fixture.py and small tables written here (never the benchmark's own file)."""

from __future__ import annotations

import itertools
import math

import pytest

from fairdarts_core import PUBLISHED_GENOTYPES, Genotype
from fairdarts_core.nb201_table import ALL_CELLS, TableError, canonical, lookup_columns, open_table, param_free_chance
from tests.nb201_fixture import ALL_CONV3, ALL_SKIP, OPS, synthetic_values, write_table


def test_lookup_returns_every_column_of_the_cell(nb201_table_file):
    table = open_table(nb201_table_file)
    assert table.kind == "csv" and len(table.rows) == 15_625
    assert table.columns == ("index", "params_m", "cifar10_test", "cifar10_valid", "cifar10_valid_test")
    index = list(itertools.product(OPS, repeat=6)).index(("skip_connect",) * 6)
    expected = {"index": float(index), **synthetic_values(("skip_connect",) * 6, index)}
    assert table.lookup(ALL_SKIP) == pytest.approx(expected)
    # a genotype, its JSON form and its string are the same cell
    genotype = Genotype.from_string(ALL_SKIP)
    assert table.lookup(genotype) == table.lookup(genotype.to_json()) == table.lookup(ALL_SKIP)


def test_the_table_is_read_once_per_process(nb201_table_file):
    assert open_table(nb201_table_file) is open_table(str(nb201_table_file))


def test_a_changed_file_is_read_again(tmp_path):
    path = write_table(tmp_path / "t.csv", cells=3)
    assert len(open_table(path).rows) == 3
    write_table(path, cells=5)
    import os
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert len(open_table(path).rows) == 5


def test_percentile_and_lookup_columns(nb201_table_file):
    table = open_table(nb201_table_file)
    values = table.values("cifar10_test")
    best = table.lookup(ALL_CONV3)["cifar10_test"]
    assert best == pytest.approx(92.0, abs=0.1) and values.max() == pytest.approx(best, abs=0.07)
    assert table.percentile("cifar10_test", values.max()) == 100.0
    assert table.percentile("cifar10_test", values.min() - 1) == 0.0
    share = 100.0 * (values <= table.lookup(ALL_SKIP)["cifar10_test"]).mean()
    columns = lookup_columns(table, ALL_SKIP)
    assert columns["nb201_percentile"] == pytest.approx(share)
    assert set(columns) == {"nb201_index", "nb201_params_m", "nb201_cifar10_test", "nb201_cifar10_valid",
                            "nb201_cifar10_valid_test", "nb201_percentile"}


def test_summary_is_the_whole_space(nb201_table_file):
    table = open_table(nb201_table_file)
    summary = table.summary()
    values = table.values("cifar10_valid")
    assert summary["cells"] == 15_625 and len(summary["sha256"]) == 64
    stats = summary["columns"]["cifar10_valid"]
    assert stats["mean"] == pytest.approx(values.mean()) and stats["max"] == pytest.approx(values.max())
    assert stats["std"] == pytest.approx(values.std())
    assert "index" not in summary["columns"]


def test_param_free_chance_is_the_binomial_share():
    # 3 of the 5 ops (none, skip, avg pool) hold no parameters; each edge draws one op uniformly
    p = 3 / 5
    expected = sum(math.comb(6, k) * p**k * (1 - p) ** (6 - k) for k in range(4, 7))
    assert param_free_chance(4) == pytest.approx(expected) == pytest.approx(0.54432)
    assert param_free_chance(0) == 1.0 and len(ALL_CELLS) == 15_625 == len(set(ALL_CELLS))


@pytest.mark.parametrize("arch, message", [
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~9|", "not an NB201 cell"),
    ("not a cell", "not an NB201 cell"),
])
def test_bad_cells_are_one_line_errors(nb201_table_file, arch, message):
    with pytest.raises(TableError, match=message) as info:
        open_table(nb201_table_file).lookup(arch)
    assert "\n" not in str(info.value)


def test_a_darts_genotype_is_refused(nb201_table_file):
    with pytest.raises(TableError, match="holds NB201 cells; got a darts genotype"):
        open_table(nb201_table_file).lookup(PUBLISHED_GENOTYPES["DARTS_V2"])


def test_a_cell_missing_from_the_table(tmp_path):
    table = open_table(write_table(tmp_path / "part.csv", cells=10))
    with pytest.raises(TableError, match=r"cell \|.*\| is not in the NB201 table .*part.csv"):
        table.lookup(ALL_CONV3)


@pytest.mark.parametrize("content, message", [
    ("index,cell,cifar10_test\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10\n", "has no 'arch' column"),
    ("index,arch,cifar10_test\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,ten\n", "not a number"),
    ("index,arch,cifar10_test\n0,Genotype(normal=[]),10\n", "line 2"),
    ("index,arch,cifar10_test\n", "holds no cells"),
])
def test_bad_tables_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TableError, match=message) as info:
        open_table(path)
    assert "\n" not in str(info.value)


def test_binary_and_missing_files(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(TableError, match="not a text CSV table"):
        open_table(path)
    with pytest.raises(TableError, match="no NB201 table at"):
        open_table(tmp_path / "absent.csv")


def test_nats_tables_read_cells_when_asked(monkeypatch, tmp_path):
    """A NATS-Bench file goes through nats_lookup; its splits get the CSV layout's column names."""
    import fairdarts_core.nats_lookup as nats

    asked = []

    def fake_lookup(arch, path, datasets):
        asked.append(arch)
        return {"index": ALL_CELLS.index(canonical(arch)),
                "accuracy": {"cifar10-valid": {"valid": 80.0, "test": 81.0}, "cifar10": {"test": 85.0},
                             "cifar100": {"valid": 60.0, "test": 61.0, "valtest": 60.5},
                             "ImageNet16-120": {"valid": 30.0, "test": 31.0, "valtest": 30.5}}}

    monkeypatch.setattr(nats, "lookup", fake_lookup)
    path = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    path.write_bytes(b"x")
    table = open_table(path)
    assert table.kind == "nats" and len(asked) == 1  # opening reads one cell, to fail early on a bad file
    values = table.lookup(ALL_SKIP)
    assert values["cifar10_valid"] == 80.0 and values["cifar10_valid_test"] == 81.0
    assert values["cifar10_test"] == 85.0 and values["imagenet16_120_valtest"] == 30.5
    assert values["index"] == ALL_CELLS.index(ALL_SKIP)
    assert set(values) == set(table.columns)
    table.lookup(ALL_SKIP)
    assert len(asked) == 2  # each cell read once
