"""A synthetic NAS-Bench-201 results table for tests: every one of the 15,625 cells, in the layout of the
benchmark's CSV export (index, arch, params_m, cifar10_test, cifar10_valid, cifar10_valid_test), with made-up
values that depend on the cell's ops, so that tests can check look-ups, percentiles and summaries. Never
the benchmark's numbers."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def synthetic_values(ops: tuple[str, ...], index: int) -> dict[str, float]:
    """Made-up values: 3x3 convs add 7 points, 1x1 convs 5, skips 1, from a base of 50 (all-conv3 = 92)."""
    score = 50.0 + sum({"nor_conv_3x3": 7.0, "nor_conv_1x1": 5.0, "skip_connect": 1.0}.get(op, 0.0) for op in ops)
    return {"params_m": round(0.07 + 0.2 * ops.count("nor_conv_3x3") + 0.03 * ops.count("nor_conv_1x1"), 4),
            "cifar10_test": round(score + (index % 7) * 0.01, 4), "cifar10_valid": round(score - 3.0, 4),
            "cifar10_valid_test": round(score - 3.5, 4)}


def arch_string(ops: tuple[str, ...]) -> str:
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


def write_table(path: Path, cells: int | None = None) -> Path:
    """Write the synthetic table (all cells, or the first `cells` of them) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "arch", "params_m", "cifar10_test", "cifar10_valid", "cifar10_valid_test"])
        for index, ops in enumerate(itertools.product(OPS, repeat=6)):
            if cells is not None and index >= cells:
                break
            values = synthetic_values(ops, index)
            writer.writerow([index, arch_string(ops), *values.values()])
    return path
