"""FLOPs (thop multiply-adds), parameter counts and accuracy of the DARTS-family networks.

Profiling a C=36, 20-cell network takes ~0.5 s on a CPU, so the published genotypes' profiles ship
in `data/published_profiles.json`, written by `python -m fairdarts_core.metrics` and compared with
fresh counts by the tests; `published.cached_profile` reads them (without importing torch) and calls
`profile_genotype` for anything else.
"""

from __future__ import annotations

import contextlib
import copy
import io

import torch
from torch import nn

from .evalnet import NetworkCIFAR
from .genotype import Genotype


def count_params(model: nn.Module, include_aux: bool = False) -> int:
    """Number of parameters; the auxiliary head is excluded unless include_aux."""
    return sum(p.numel() for name, p in model.named_parameters()
               if include_aux or not name.startswith("auxiliary."))


def _strip_batchnorm(model: nn.Module) -> nn.Module:
    for name, child in model.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            _strip_batchnorm(child)
    return model


def count_macs(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 32, 32)) -> float:
    """Multiply-accumulates of one forward pass counted by thop, BatchNorm removed, eval mode.

    thop calls these FLOPs; the published tables do too. Profiles a deep copy, since thop adds
    buffers to the modules it profiles.
    """
    import thop  # imported here: thop prints on import in some versions

    clone = _strip_batchnorm(copy.deepcopy(model)).eval().cpu()  # a copy: thop adds buffers
    x = torch.zeros(input_size)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        macs, _ = thop.profile(clone, inputs=(x,), verbose=False)
    return float(macs)


def profile_genotype(genotype: Genotype, init_channels: int | None = None, layers: int | None = None,
                     num_classes: int = 10) -> dict[str, float]:
    """FLOPs (thop multiply-adds, millions) and params (millions) of a genotype's evaluation network,
    by default at the paper scale of its space (DARTS: C=36, 20 cells).

    -> {"flops_m", "params_m" (without the auxiliary head), "params_with_aux_m", ...}
    """
    if genotype.family != "darts":
        from .spaces import space_of

        return space_of(genotype).profile(genotype, num_classes, init_channels, layers)
    model = NetworkCIFAR(genotype, init_channels or 36, layers or 20, num_classes, auxiliary=True)
    return {
        "flops_m": count_macs(model) / 1e6,
        "params_m": count_params(model) / 1e6,
        "params_with_aux_m": count_params(model, include_aux=True) / 1e6,
    }


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Top-1 accuracy in percent."""
    return float((logits.argmax(dim=1) == target).float().mean().item() * 100.0)


def write_published_profiles() -> str:
    """Profile every published genotype and write data/published_profiles.json; returns its path."""
    import json
    from pathlib import Path

    from .published import PROFILES_FILE, PUBLISHED_GENOTYPES, thop_version

    profiles = {g.to_json(): profile_genotype(g) for g in PUBLISHED_GENOTYPES.values()}
    path = Path(__file__).resolve().parent / PROFILES_FILE
    path.write_text(json.dumps({"thop": thop_version(), "network": "C=36, 20 cells, 10 classes",
                                "profiles": profiles}, indent=1) + "\n", encoding="utf-8")
    return str(path)


if __name__ == "__main__":
    print(f"wrote {write_published_profiles()}")
