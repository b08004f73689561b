"""FLOPs (thop multiply-adds) and parameter counts of the DARTS evaluation network of a genotype.

Profiling a C=36, 20-cell network takes ~0.5 s on a CPU, so the published genotypes' profiles ship
in `data/published_profiles.json`, written by `python -m fairdarts_core.spaces.darts.profile` and
compared with fresh counts by the tests; `cached_profile` reads them at that size and counts anything else.
"""

from __future__ import annotations

from ...genotype import Genotype
from ...metrics import count_macs, count_params
from ...published import PUBLISHED_GENOTYPES, shipped_profiles, write_profiles
from .evalnet import NetworkCIFAR


def profile_genotype(genotype: Genotype, init_channels: int | None = None, layers: int | None = None,
                     num_classes: int = 10) -> dict[str, float]:
    """FLOPs (thop multiply-adds, millions) and params (millions) of a DARTS-family genotype's CIFAR
    network, by default at the paper scale (C=36, 20 cells).

    -> {"flops_m", "params_m" (without the auxiliary head), "params_with_aux_m"}
    """
    model = NetworkCIFAR(genotype, init_channels or 36, layers or 20, num_classes, auxiliary=True)
    return {
        "flops_m": count_macs(model) / 1e6,
        "params_m": count_params(model) / 1e6,
        "params_with_aux_m": count_params(model, include_aux=True) / 1e6,
    }


def cached_profile(genotype: Genotype, num_classes: int = 10, init_channels: int | None = None,
                   layers: int | None = None) -> dict[str, float]:
    """profile_genotype(genotype, ...), from the shipped table when that holds the genotype at this size
    (the paper's: C=36, 20 cells, 10 classes), else counted."""
    if num_classes == 10 and init_channels in (None, 36) and layers in (None, 20):
        shipped = shipped_profiles().get(genotype.to_json())
        if shipped is not None:
            return dict(shipped)
    return profile_genotype(genotype, init_channels or 36, layers or 20, num_classes)


def write_published_profiles() -> str:
    """Profile every published genotype and write the shipped table; returns its path."""
    return write_profiles({g.to_json(): profile_genotype(g) for g in PUBLISHED_GENOTYPES.values()},
                          network="C=36, 20 cells, 10 classes")


if __name__ == "__main__":
    print(f"wrote {write_published_profiles()}")
