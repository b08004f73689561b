"""Look up an NB201 cell's benchmark accuracies in a NATS-Bench topology file (NATS-tss) the user has.

`lookup(arch, path)` opens `path` with the `nats_bench` package (pip install nats_bench, or the `nats`
extra): a directory (`NATS-tss-v1_0-3ffb9-simple/`, fast_mode=True: meta.pickle.pbz2 plus one file per
architecture, read when queried) or a single file (`NATS-tss-v1_0-3ffb9.pickle.pbz2`, fast_mode=False,
read whole). These files are bz2-compressed pickles, and loading them unpickles them: open only copies
you trust. Only the path given is read (never a default location such as $TORCH_HOME).

The numbers are `get_more_info(index, dataset, hp="200", is_random=False)`: the 200-epoch training
protocol, averaged over its seeds (777, 888, 999), at the last epoch; accuracies in percent. SPLITS
says what each split is (nats_bench api_topology.py get_more_info). The usual table convention takes the
CIFAR-10 valid accuracy from cifar10-valid and the CIFAR-10 test accuracy from cifar10.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from .genotype import Genotype

DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
# dataset -> {key of get_more_info -> what the split is}
SPLITS: dict[str, dict[str, str]] = {
    "cifar10-valid": {
        "valid": "x-valid: the CIFAR-10 valid half (25k) after training on the train half (25k)",
        "test": "ori-test: the CIFAR-10 test set (10k) after training on the train half (25k)",
    },
    "cifar10": {
        "test": "ori-test: the CIFAR-10 test set (10k) after training on train + valid (50k)",
    },
    "cifar100": {
        "valid": "x-valid: half of the CIFAR-100 test set (5k)",
        "test": "x-test: the other half of the CIFAR-100 test set (5k)",
        "valtest": "ori-test: the whole CIFAR-100 test set (10k)",
    },
    "ImageNet16-120": {
        "valid": "x-valid: half of the ImageNet16-120 test set (3k)",
        "test": "x-test: the other half of the ImageNet16-120 test set (3k)",
        "valtest": "ori-test: the whole ImageNet16-120 test set (6k)",
    },
}


def lookup(arch: str | Genotype, path: str | os.PathLike, datasets: Iterable[str] = DATASETS,
           hp: str = "200") -> dict[str, Any]:
    """The benchmark's accuracies of `arch` (an NB201 string or genotype) in the NATS-tss file or
    directory `path`:

    {"arch", "index" (in NATS-tss / NAS-Bench-201), "hp", "accuracy": {dataset: {split: %}},
     "splits": {dataset: {split: what it is}}}

    A missing package, path, dataset or architecture is a one-line ValueError.
    """
    genotype = arch if isinstance(arch, Genotype) else Genotype.from_string(arch)
    if genotype.family != "nb201":
        raise ValueError(f"NATS-Bench holds NB201 cells; got a {genotype.family} genotype")
    arch_str = genotype.to_string()
    datasets = tuple(datasets)
    unknown = [d for d in datasets if d not in SPLITS]
    if unknown:
        raise ValueError(f"unknown NATS-Bench dataset {unknown[0]!r}; valid: {', '.join(DATASETS)}")
    if importlib.util.find_spec("nats_bench") is None:
        raise ValueError("looking up NATS-Bench results needs the nats_bench package: pip install nats_bench "
                         "(or the extra: pip install 'fairdarts-bench[nats]')")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no NATS-Bench topology file or directory at {path} (NATS-tss-v1_0-3ffb9.pickle.pbz2 "
                         f"or NATS-tss-v1_0-3ffb9-simple/)")
    api = _api(str(path.resolve()), path.stat().st_mtime_ns)
    index = api.query_index_by_arch(arch_str)
    if index < 0:
        raise ValueError(f"{arch_str} is not in the benchmark at {path}")
    accuracy = {}
    for dataset in datasets:
        try:
            info = api.get_more_info(index, dataset, hp=hp, is_random=False)
        except (AssertionError, OSError, ValueError, KeyError) as err:
            raise ValueError(f"{path} holds no hp={hp} {dataset} results for index {index} ({arch_str}): "
                             f"{type(err).__name__}") from None
        accuracy[dataset] = {key: float(info[f"{key}-accuracy"]) for key in SPLITS[dataset]
                             if info.get(f"{key}-accuracy") is not None}
    return {"arch": arch_str, "index": int(index), "hp": str(hp), "accuracy": accuracy,
            "splits": {d: dict(SPLITS[d]) for d in datasets}}


@lru_cache(maxsize=4)
def _api(path: str, mtime_ns: int):
    """The benchmark at `path`, opened once per process (and again only when the file changes)."""
    import nats_bench

    try:
        return nats_bench.create(path, "tss", fast_mode=Path(path).is_dir(), verbose=False)
    except Exception as err:  # the package raises ValueError, OSError, EOFError, pickle errors...
        raise ValueError(f"cannot read {path} as a NATS-Bench topology benchmark: "
                         f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None
