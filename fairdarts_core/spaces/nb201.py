"""The NAS-Bench-201 (NATS-Bench topology) space: one cell of 4 nodes (node 0 the cell input, node 3
its output), 6 edges j -> i (j < i), each with exactly one of 5 ops; 5^6 = 15,625 cells.

Written from the official xautodl code (D-X-Y/AutoDL-Projects@f46486e): the ops of
`models/cell_operations.py`, the search network `TinyNetworkDarts` (`cell_searchs/search_model_darts.py`)
and the evaluation network `TinyNetwork` (`cell_infers/tiny_network.py`): a 3x3 stem, three stages of
N cells at C, 2C, 4C joined by stride-2 ResNet basic blocks, BatchNorm + ReLU, global pooling, a
linear classifier. The search network shares ONE (6, 5) alpha among all its cells.

Its genotypes, op names and architecture strings are the family "nb201" (`fairdarts_core.families.nb201`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..families.nb201 import EDGES, FAMILY, KIND, OUTPUT, PRIMITIVES
from ..fastops import _wanted
from ..genotype import Genotype, GenotypeError
from ..metrics import count_macs
from ..mixed_op import MixedOp, MixedOpFactory, OpBuilder
from ..ops import Identity, Zero, run_tail
from ..supernet import Supernet
from .base import ParseRule, SearchSpace, as_matrix

# BatchNorm of the search cells: affine=False as every NB201 search script; no running statistics as
# the DARTS-V1 script's usage line (`DARTS-V1.sh cifar10 0 -1`) and the NATS-Bench reruns' default
# (`--track_running_stats 0`). The search loop measures the supernet with batch statistics anyway.
SEARCH_TRACK_RUNNING_STATS = False


# ----- ops -----------------------------------------------------------------------------------------
class ReLUConvBN(nn.Sequential):
    """ReLU -> conv (stride 1, `bias = not affine`) -> BN, inside a child `op` as in xautodl, so that
    state_dict keys match the official networks'."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__(OrderedDict(op=nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=not affine),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )))


def build_op(name: str, channels: int, affine: bool, track_running_stats: bool) -> nn.Module:
    """One NB201 op inside a cell (stride 1, channels in = out): none is a zero of x's shape, skip the
    identity, the convs ReLU-Conv-BN, the pool AvgPool2d(3, padding 1, count_include_pad=False) with
    no BatchNorm."""
    if name == "none":
        return Zero(1)
    if name == "skip_connect":
        return Identity()
    if name in ("nor_conv_1x1", "nor_conv_3x3"):
        k = 1 if name == "nor_conv_1x1" else 3
        return ReLUConvBN(channels, channels, k, 1, k // 2, affine, track_running_stats)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}; valid ops: {', '.join(PRIMITIVES)}")


def search_op(name: str, channels: int, stride: int) -> nn.Module:
    """A search-time op: BatchNorm without affine parameters (so the convs carry a bias) and without
    running statistics (SEARCH_TRACK_RUNNING_STATS)."""
    if stride != 1:
        raise ValueError(f"NB201 cells have stride 1 only, got {stride}")
    return build_op(name, channels, affine=False, track_running_stats=SEARCH_TRACK_RUNNING_STATS)


class ResNetBasicblock(nn.Module):
    """The block between stages: ReLUConvBN 3x3 (stride 2) -> ReLUConvBN 3x3, plus the shortcut
    AvgPool2d(2) -> 1x1 conv (no BN, no ReLU); no activation after the sum. Affine, tracked BN in the
    search network too, as the official one."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class _Macro(nn.Module):
    """Stem, three stages of `layers` cells separated by ResNet blocks, BN + ReLU, pooling, classifier."""

    def _build(self, init_channels: int, layers: int, num_classes: int, make_cell) -> None:
        c = init_channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.cells = nn.ModuleList()
        for stage in range(3):
            if stage:
                self.cells.append(ResNetBasicblock(c, 2 * c))
                c *= 2
            for _ in range(layers):
                self.cells.append(make_cell(c))
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def _head(self, feature: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.lastact(feature)).flatten(1))


# ----- search fast path ----------------------------------------------------------------------------
def _is_pool_3x3(op: nn.Module) -> bool:
    """The NB201 avg_pool_3x3 module (stride 1, padding 1, count_include_pad=False), without hooks."""
    return (type(op) is nn.AvgPool2d and op.kernel_size == 3 and op.stride == 1 and op.padding == 1
            and not op.count_include_pad and not op.ceil_mode and op.divisor_override is None
            and not op._forward_hooks and not op._forward_pre_hooks)


# Measured (one thread, batch 32, forward + backward): the conv form is faster at 32x32 (C=16: 2.4 -> 1.6 ms)
# and a little slower at 8x8 (C=64: 0.53 -> 0.57 ms); 16x16 (C=32) was not measured on its own.
_POOL_MIN_PIXELS = 256


def avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """AvgPool2d(3, 1, 1, count_include_pad=False) of a CPU channels_last batch of at least 16x16 as a
    depthwise conv with a kernel of ones (the window sums) times 1 / (the window's in-image count), which
    oneDNN runs forward and backward faster than ATen's pool (C=16, 32x32, batch 32: 2.4 -> 1.6 ms);
    elsewhere F.avg_pool2d. Same sums; the division is a multiplication by the reciprocal."""
    n, c, h, w = x.shape
    if (x.device.type != "cpu" or h * w < _POOL_MIN_PIXELS or x.dtype not in (torch.float32, torch.float64)
            or not x.is_contiguous(memory_format=torch.channels_last) or x.is_contiguous()):
        return nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    ones = x.new_ones((c, 1, 3, 3))
    count = nn.functional.avg_pool2d(x.new_ones((1, 1, h, w)), 3, 1, 1, count_include_pad=True) * 9
    return nn.functional.conv2d(x, ones, None, 1, 1, 1, c) * count.reciprocal_()


def _flat(t: torch.Tensor) -> torch.Tensor | None:
    """A 1-d view of every element of a dense channels_last or contiguous tensor, or None."""
    if t.is_contiguous():
        return t.view(-1)
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return t.permute(0, 2, 3, 1).reshape(-1)
    return None


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum(a * b) of two tensors of one shape: a BLAS dot where both have the same dense layout."""
    fa, fb = _flat(a), _flat(b)
    if fa is not None and fb is not None and a.stride() == b.stride():
        return torch.dot(fa, fb)
    return (a * b).sum()


class _WeightedSum(torch.autograd.Function):
    """sum_k row[cols[k]] * parts[k] (in that order, as the fast MixedOp sums: the first product, then
    addcmul_) as one autograd node: the backward gives each part grad * its weight, and each weight the
    dot product of grad and its part (BLAS dot instead of a product tensor and its sum), that only when
    the backward wants the row (the arch step) - the weight step skips it."""

    @staticmethod
    def forward(ctx, row: torch.Tensor, cols: tuple[int, ...], *parts: torch.Tensor) -> torch.Tensor:
        total = None
        for part, col in zip(parts, cols):
            w = row[col]
            total = part * w if total is None else total.addcmul_(part, w)
        ctx.cols = cols
        ctx.save_for_backward(row, *parts)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        # Differentiable torch ops only: a double backward (the Hessian of the alphas) runs through it.
        row, *parts = ctx.saved_tensors
        grads = [grad * row[col] if ctx.needs_input_grad[i + 2] else None
                 for i, (part, col) in enumerate(zip(parts, ctx.cols))]
        grad_row = None
        if _wanted(ctx, 0):
            grad_row = row.new_zeros(row.shape).index_put((torch.tensor(ctx.cols, device=row.device),),
                                                         torch.stack([_dot(grad, part) for part in parts]))
        return (grad_row, None, *grads)


def _runs_fast(edge: nn.Module) -> bool:
    return type(edge) is MixedOp and edge.fast and not edge._forward_hooks and not edge._forward_pre_hooks


def fast_edge(edge: MixedOp, x: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
    """What the fast `edge(x, row)` computes (shared ReLU of the conv ops, 'none' skipped, the same
    products summed in the same order), with the weighted sum as one `_WeightedSum` node and the pool
    as `avg_pool_3x3`. Skip and other ops run as modules (their hooks run)."""
    relu_x = None
    parts, cols = [], []
    for col, op, tail in zip(edge.columns, edge.ops, edge.tails):
        if isinstance(op, Zero):
            continue
        if tail is not None:
            relu_x = torch.relu(x) if relu_x is None else relu_x
            out = run_tail(relu_x, tail)
        elif _is_pool_3x3(op):
            out = avg_pool_3x3(x)
        else:
            out = op(x)
        parts.append(out)
        cols.append(col)
    if not parts:
        return edge(x, row)
    return _WeightedSum.apply(row, tuple(cols), *parts)


# ----- search network ------------------------------------------------------------------------------
class SearchCell(nn.Module):
    """Every edge a mixed op; node i sums its edges from nodes 0..i-1; the output is node 3."""

    def __init__(self, c: int, ops: Sequence[Sequence[tuple[int, str]]], build: OpBuilder, mixed_op: MixedOpFactory,
                 fast: bool = True):
        super().__init__()
        self.edges = nn.ModuleList(mixed_op(build, c, 1, edge_ops, fast) for edge_ops in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in range(1, OUTPUT + 1):
            total = None
            for e, (src, d) in enumerate(EDGES):
                if d == dst:
                    edge, h = self.edges[e], nodes[src]
                    out = fast_edge(edge, h, weights[e]) if _runs_fast(edge) else edge(h, weights[e])
                    total = out if total is None else total + out
            nodes.append(total)
        return nodes[OUTPUT]


class SearchNetwork(_Macro, Supernet):
    """TinyNetworkDarts: C=16, N=5 (`layers`) cells per stage in the paper. forward(x, weights) with
    weights {"cell": (6, ops)}, one matrix for every cell."""

    def __init__(self, primitives: Sequence[str], num_classes: int = 10, init_channels: int = 16, layers: int = 5,
                 op_masks: Mapping[str, np.ndarray] | None = None, build: OpBuilder | None = None,
                 mixed_op: MixedOpFactory | None = None, fast: bool = True):
        from ..mixed_op import mixed_op as default_mixed_op

        Supernet.__init__(self, primitives, op_masks)
        build = build or search_op
        mixed_op = mixed_op or default_mixed_op
        ops = [[(k, op) for k, op in enumerate(self.primitives) if op_masks is None or op_masks[KIND][e, k]]
               for e in range(len(EDGES))]
        self._build(init_channels, layers, num_classes, lambda c: SearchCell(c, ops, build, mixed_op, fast))

    def forward(self, x: torch.Tensor, weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        w = weights[KIND]
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature, w) if isinstance(cell, SearchCell) else cell(feature)
        return self._head(feature)


# ----- evaluation network -----------------------------------------------------------------------
class InferCell(nn.Module):
    """The cell of a genotype: one op per edge in string order, `none` included (a Zero module, as the
    official InferCell builds it); node i = the sum of its edges; the output is node 3."""

    def __init__(self, genotype: Genotype, c: int):
        super().__init__()
        edges, _ = genotype.cell(KIND)
        self.links = tuple((dst, src) for _, dst, src in edges)
        self.layers = nn.ModuleList(build_op(op, c, affine=True, track_running_stats=True) for op, _, _ in edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in range(1, OUTPUT + 1):
            nodes.append(sum(layer(nodes[src]) for (d, src), layer in zip(self.links, self.layers) if d == dst))
        return nodes[OUTPUT]


class TinyNetwork(_Macro):
    """The NAS-Bench-201 evaluation network (C=16, N=5 in the benchmark); state_dict keys as the
    official TinyNetwork's. forward -> (logits, None), as NetworkCIFAR without its auxiliary head."""

    def __init__(self, genotype: Genotype, init_channels: int = 16, layers: int = 5, num_classes: int = 10):
        super().__init__()
        NB201.check_genotype(genotype)
        self._build(init_channels, layers, num_classes, lambda c: InferCell(genotype, c))

    def forward(self, x: torch.Tensor):
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        return self._head(feature), None


# ----- profile -------------------------------------------------------------------------------------
def benchmark_flops(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 32, 32)) -> float:
    """Multiply-accumulates per image counted as the benchmark's `get_model_infos` counts them: convs
    and linears only, 1 per MAC plus 1 per output element for a bias; pooling, BatchNorm, ReLU and sums
    are free."""
    total = [0]

    def conv_hook(m: nn.Conv2d, _inp, out):
        kh, kw = m.kernel_size
        total[0] += kh * kw * m.in_channels * m.out_channels // m.groups * out.numel() // m.out_channels
        if m.bias is not None:
            total[0] += out.numel()

    def linear_hook(m: nn.Linear, _inp, out):
        total[0] += m.in_features * out.numel()
        if m.bias is not None:
            total[0] += out.numel()

    handles = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total[0] / input_size[0]


# ----- parse ---------------------------------------------------------------------------------------
def parse_argmax(weights: Mapping[str, Any], threshold: float, primitives: Sequence[str],
                 masks: Mapping[str, np.ndarray] | None = None) -> Genotype:
    """Every edge keeps its best op, 'none' included (NB201).

    As the official genotype(): ties go to the lower column; ops an edge does not hold (masks) are never
    chosen; threshold is not used."""
    primitives = tuple(primitives)
    if KIND not in weights:
        raise GenotypeError("weights lack the nb201 'cell' matrix")
    matrix = as_matrix(weights[KIND], len(primitives), KIND)
    if matrix.shape[0] != len(EDGES):
        raise GenotypeError(f"nb201 cell weights must have {len(EDGES)} rows, got {matrix.shape[0]}")
    mask = None if masks is None else np.asarray(masks[KIND], dtype=bool)
    edges = []
    for e, (src, dst) in enumerate(EDGES):
        usable = [k for k in range(len(primitives)) if mask is None or mask[e, k]]
        if not usable:
            raise GenotypeError(f"edge {dst}<-{src} holds no op")
        best = max(usable, key=lambda k: matrix[e, k])
        edges.append((primitives[best], dst, src))
    return Genotype.of({KIND: (edges, (OUTPUT,))}, family=FAMILY.name)


PARSE_METHODS: dict[str, ParseRule] = {"argmax": parse_argmax}


# ----- the space ---------------------------------------------------------------------------------
# The NAS-Bench-201 search protocol (DARTS-V1 script, configs/nas-benchmark/algos/DARTS.config):
# SGD nesterov, momentum 0.9, wd 5e-4, clip 5, the weight step before the arch step in each iteration.
SEARCH_PROTOCOL = {"nesterov": True, "momentum": 0.9, "weight_decay": 5e-4, "grad_clip": 5.0,
                   "weight_step_first": True}
# The benchmark's training (configs/nas-benchmark/hyper-opts/200E.config): SGD nesterov 0.9, cosine to 0,
# wd 5e-4, no gradient clipping, flip + crop only (no cutout), no auxiliary head, no drop path.
TRAIN_PROTOCOL = {"nesterov": True, "momentum": 0.9, "weight_decay": 5e-4, "learning_rate_min": 0.0,
                  "grad_clip": 0.0, "cutout": 0, "autoaugment": False, "auxiliary_weight": 0.0,
                  "drop_path_prob": 0.0}


@dataclass(frozen=True)
class NB201Space(SearchSpace):
    family: str = "nb201"
    cell_kinds: tuple[str, ...] = (KIND,)
    num_inputs: int = 1
    num_nodes: int = 3
    optional_none: bool = False
    parse_rules = PARSE_METHODS
    network = SearchNetwork
    op_builder = staticmethod(search_op)

    def evalnet(self, genotype, init_channels, layers, num_classes, auxiliary, fast=True):
        """TinyNetwork; NB201 networks have no auxiliary head (auxiliary is ignored) and no fast path."""
        self.check_genotype(genotype)
        return TinyNetwork(genotype, init_channels, layers, num_classes)

    def profile(self, genotype, num_classes=10, init_channels=None, layers=None) -> dict[str, float]:
        self.check_genotype(genotype)
        model = TinyNetwork(genotype, init_channels or 16, layers or 5, num_classes)
        params = sum(p.numel() for p in model.parameters())
        return {
            "flops_m": count_macs(model) / 1e6,
            "params_m": params / 1e6,
            "params_with_aux_m": params / 1e6,
            "bench_flops_m": benchmark_flops(model) / 1e6,
            "bench_params_m": params / 1e6,
        }

    def describe_profile(self, profile) -> str:
        line = (f"{profile['flops_m']:.2f}M FLOPs (thop multiply-adds, BN removed), "
                f"{profile['params_m']:.3f}M params (all parameters)")
        if "bench_flops_m" in profile:
            line += (f"; benchmark convention (xautodl get_model_infos: conv and linear MACs plus biases, pooling "
                     f"free): {profile['bench_flops_m']:.5f}M FLOPs, {profile['bench_params_m']:.6f}M params")
        return line

    def search_protocol(self) -> dict[str, Any]:
        return dict(SEARCH_PROTOCOL)

    def train_protocol(self) -> dict[str, Any]:
        return dict(TRAIN_PROTOCOL)


NB201 = NB201Space("nb201", "NAS-Bench-201 cell: 4 nodes, 6 edges, 5 ops with none (15,625 cells)", PRIMITIVES)
