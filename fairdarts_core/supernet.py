"""What every space's search network shares: the architecture parameters and the mixed ops.

A supernet takes *already activated* weights, one `(edges, ops)` tensor per cell kind, and knows
nothing of variants. The architecture parameters live in one `nn.ParameterDict` (`arch`) whose
entries the variant declares, so they are saved in the state_dict and moved by `.to()`;
`arch_parameters()` and `weight_parameters()` are disjoint and cover every parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .mixed_op import MixedOp
from .ops import Identity

ALPHA_PREFIX = "alphas_"  # arch entries named alphas_<cell kind> hold the op logits of that cell kind


class Supernet(nn.Module):
    """Base of the search networks: `arch`, the op masks of a stage, and views of the mixed ops.

    `op_masks` ({kind: bool (edges, ops)}) marks the ops each edge holds when edges hold only some of
    the space's ops; `masked()` sets the other logits to -inf, so softmax and sigmoid give them 0.
    """

    def __init__(self, primitives: Sequence[str], op_masks: Mapping[str, torch.Tensor] | None = None):
        super().__init__()
        self.primitives = tuple(primitives)
        self.arch = nn.ParameterDict()
        self.mask_kinds = tuple(op_masks or ())
        for kind, mask in (op_masks or {}).items():
            self.register_buffer(f"op_mask_{kind}", torch.as_tensor(mask, dtype=torch.bool), persistent=False)

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.arch.values())

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def op_masks(self) -> dict[str, torch.Tensor]:
        return {kind: getattr(self, f"op_mask_{kind}") for kind in self.mask_kinds}

    def masked(self, arch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The arch entries with the logits of ops an edge does not hold at -inf."""
        return mask_arch(arch, self.op_masks())

    def mixed_ops(self) -> list[nn.Module]:
        return [m for m in self.modules() if isinstance(m, MixedOp)]

    def ops_named(self, name: str, stride: int | None = None) -> list[nn.Module]:
        """The modules of op `name` inside the mixed ops (of edges with this stride, if given)."""
        return [op for m in self.mixed_ops() if stride is None or m.stride == stride
                for op_name, op in zip(m.op_names, m.ops) if op_name == name]

    def skip_ops(self) -> list[Identity]:
        """The stride-1 skip connections of the mixed ops (for output hooks)."""
        return [op for op in self.ops_named("skip_connect", stride=1) if isinstance(op, Identity)]


def mask_arch(arch: Mapping[str, torch.Tensor], masks: Mapping[str, Any] | None) -> dict[str, torch.Tensor]:
    """The arch entries with the alphas of ops an edge does not hold ({kind: bool (edges, ops)}) at -inf,
    so that softmax and sigmoid give them weight 0."""
    out = dict(arch)
    for kind, mask in (masks or {}).items():
        name = ALPHA_PREFIX + kind
        if name in out:
            held = torch.as_tensor(mask, dtype=torch.bool, device=out[name].device)
            out[name] = out[name].masked_fill(~held, float("-inf"))
    return out
