"""The search-space interface: what a space declares and builds.

A space is a cell (kinds, inputs, nodes, edges in node order, the op set of every edge), the
supernet and evaluation networks built on that cell, its parse methods (name -> function), and its
search and training protocol (its sizes per preset: `fairdarts_core.sizes`). Genotypes of a space belong
to its `family` (`fairdarts_core.families`), which owns their validation and text form; several spaces can
share one family (the R-DARTS spaces build the same networks as the DARTS space).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..genotype import Genotype, GenotypeError
from ..mixed_op import MixedOpFactory

# A parse method: ({kind: (edges, ops) activated weights}, threshold, primitives, masks) -> Genotype.
ParseRule = Callable[[Mapping[str, Any], float, Sequence[str], Mapping[str, np.ndarray] | None], Genotype]

# Selection methods: parse methods that need the search's supernet and data, not only its weights. They run
# once on a finished search's checkpoint (`fairdarts_core.perturbation`, `darts-bench parse RUN_DIR`); a
# search's per-epoch parse under one of them is the space's default parse of the weights. Name -> summary.
SELECTION_METHODS = {"perturbation": "DARTS-PT perturbation-based selection on the search's supernet, after "
                                     "the search (per epoch: the space's default parse)"}


@dataclass(frozen=True)
class SearchSpace:
    """One search space. Subclasses build the networks; instances fix the op sets."""

    name: str
    summary: str  # one line for --help and table captions
    primitives: tuple[str, ...]  # the op set, in weight-column order
    # Per cell kind, the ops of each edge where edges differ (R-DARTS S1); None: every edge has all ops.
    edge_ops: Mapping[str, tuple[tuple[str, ...], ...]] | None = field(default=None, compare=False)

    family: str = "darts"
    cell_kinds: tuple[str, ...] = ("normal", "reduce")
    num_inputs: int = 2
    num_nodes: int = 4
    optional_none: bool = True  # a variant's with_none may add or remove 'none'

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """(src, dst) in node order: node i takes an edge from every earlier node."""
        first = self.num_inputs
        return tuple((src, dst) for dst in range(first, first + self.num_nodes) for src in range(dst))

    def node_rows(self) -> list[tuple[int, int, int]]:
        """(node, first row, last row + 1) of each intermediate node's incoming edges."""
        rows, start = [], 0
        for node in range(self.num_inputs, self.num_inputs + self.num_nodes):
            rows.append((node, start, start + node))
            start += node
        return rows

    def op_set(self, with_none: bool | None = None) -> tuple[str, ...]:
        """The space's ops; where 'none' is optional (the DARTS space) with_none=True puts it first and
        False removes it. Spaces that fix their op set (R-DARTS, NB201) ignore with_none."""
        ops = self.primitives
        if with_none is None or not self.optional_none:
            return ops
        if with_none and "none" not in ops:
            return ("none",) + ops
        if not with_none:
            return tuple(op for op in ops if op != "none")
        return ops

    def op_masks(self, primitives: Sequence[str],
                 edge_ops: Mapping[str, Sequence[Sequence[str]]] | None = None) -> dict[str, np.ndarray] | None:
        """{kind: bool (edges, ops)} of the ops each edge holds (edge_ops, else the space's own);
        None when every edge holds every op."""
        edge_ops = edge_ops if edge_ops is not None else self.edge_ops
        if edge_ops is None:
            return None
        index = {op: i for i, op in enumerate(primitives)}
        masks = {}
        for kind in self.cell_kinds:
            rows = edge_ops[kind]
            if len(rows) != len(self.edges):
                raise ValueError(f"space {self.name}: {kind} has {len(rows)} op lists for {len(self.edges)} edges")
            mask = np.zeros((len(self.edges), len(primitives)), dtype=bool)
            for e, ops in enumerate(rows):
                for op in ops:
                    if op not in index:
                        raise ValueError(f"space {self.name}: op {op!r} of edge {e} is not in {list(primitives)}")
                    mask[e, index[op]] = True
            masks[kind] = mask
        return masks

    @property
    def parse_methods(self) -> tuple[str, ...]:
        """The names of the space's parse methods (`parse_rules`, the first its default, then the
        selection methods)."""
        return (*self.parse_rules, *SELECTION_METHODS)

    def check_parse_method(self, method: str) -> None:
        if method not in self.parse_methods:
            raise ValueError(f"space {self.name} has no parse method {method!r}; valid: "
                             f"{', '.join(self.parse_methods)}")

    def check_genotype(self, genotype: Genotype) -> None:
        if genotype.family != self.family:
            raise GenotypeError(f"a {genotype.family} genotype does not fit space {self.name} "
                                f"({self.family} genotypes)")

    # ----- what each space builds ----------------------------------------------------------
    # Each space module sets these three: its parse methods by name (a new method is one function in the
    # space's parse module and its entry there), its supernet class (a fairdarts_core.supernet.Supernet taking
    # (primitives, num_classes, init_channels, layers, op_masks, op_builder, mixed_op, fast=)) and its
    # search-time op builder (name, channels, stride) -> module, as a staticmethod.
    parse_rules: ClassVar[Mapping[str, ParseRule]]
    network: ClassVar[type[nn.Module]]
    op_builder: ClassVar[Callable[[str, int, int], nn.Module]]

    def supernet(self, primitives: Sequence[str], num_classes: int, init_channels: int, layers: int,
                 op_masks: Mapping[str, np.ndarray] | None, mixed_op: MixedOpFactory, fast: bool = True) -> nn.Module:
        """The search network over `primitives`."""
        return self.network(primitives, num_classes, init_channels, layers, op_masks, self.search_op, mixed_op,
                            fast=fast)

    def search_op(self, name: str, channels: int, stride: int) -> nn.Module:
        """The search-time module of op `name` (the supernet's op builder)."""
        return self.op_builder(name, channels, stride)

    def parse(self, weights: Mapping[str, Any], method: str, threshold: float, primitives: Sequence[str],
              masks: Mapping[str, np.ndarray] | None = None) -> Genotype:
        """Discretize {kind: (edges, ops)} activated weights with the parse method `method`."""
        self.check_parse_method(method)
        rule = self.parse_rules.get(method) or self.parse_rules[self.parse_methods[0]]  # a selection method's stand-in
        return rule(weights, threshold, primitives, masks)

    def genotype_mask(self, genotype: Genotype, primitives: Sequence[str]) -> dict[str, np.ndarray]:
        """One-hot weights of a genotype in this space: 1 on each kept (edge, op), 0 elsewhere."""
        index = {edge: i for i, edge in enumerate(self.edges)}
        masks = {}
        for kind in self.cell_kinds:
            mask = np.zeros((len(self.edges), len(primitives)))
            for op, dst, src in genotype.cell(kind)[0]:
                if (src, dst) not in index or op not in primitives:
                    raise GenotypeError(f"{kind}: edge ({op}, {dst}, {src}) is not in the search space {self.name}")
                mask[index[(src, dst)], list(primitives).index(op)] = 1.0
            masks[kind] = mask
        return masks

    def evalnet(self, genotype: Genotype, init_channels: int, layers: int, num_classes: int,
                auxiliary: bool, fast: bool = True) -> nn.Module:
        """The evaluation network; forward(x) -> (logits, aux logits or None)."""
        raise NotImplementedError

    def profile(self, genotype: Genotype, num_classes: int = 10, init_channels: int | None = None,
                layers: int | None = None) -> dict[str, float]:
        """FLOPs and params of the evaluation network (default: paper scale): at least flops_m (thop
        multiply-adds, BatchNorm removed, one image), params_m and params_with_aux_m."""
        raise NotImplementedError

    def describe_profile(self, profile: Mapping[str, float]) -> str:
        """One line naming each number of a profile and its convention."""
        raise NotImplementedError

    def search_protocol(self) -> dict[str, Any]:
        """SearchConfig values this space sets at every preset (its sizes per preset: `fairdarts_core.sizes`)."""
        return {}

    def train_protocol(self) -> dict[str, Any]:
        """TrainConfig values this space sets at every preset (its sizes per preset: `fairdarts_core.sizes`)."""
        return {}


def activated(weights: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """{kind: float64 array} of weights given as tensors or nested lists."""
    out = {}
    for kind, w in weights.items():
        if isinstance(w, torch.Tensor):
            w = w.detach().cpu().numpy()
        out[kind] = np.asarray(w, dtype=np.float64)
    return out


def as_matrix(weights: Any, n_ops: int, name: str) -> np.ndarray:
    """Array-like (lists, NumPy, tensor) -> float64 (edges, n_ops) with a clear error on a bad shape."""
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    try:
        matrix = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise GenotypeError(f"{name} weights must be a numeric matrix") from None
    if matrix.ndim != 2 or matrix.shape[1] != n_ops:
        raise GenotypeError(f"{name} weights must have shape (edges, {n_ops}), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise GenotypeError(f"{name} weights contain NaN or infinity")
    return matrix
