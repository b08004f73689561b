"""The DARTS evaluation networks of a genotype: CIFAR (C=36, 20 cells) and ImageNet mobile (C=48, 14 cells).

Both genotype styles build through one cell: every node sums its incoming edges. A node with no
input is ignored, an edge from an ignored node is skipped, and the cell output concatenates the
computed nodes of its concat list, so threshold-parsed cells with 0 or 1 inputs per node build.

Drop path follows the official cell of each style: pair-style genotypes (DARTS `Cell`) drop every
edge's output except identities; edge-style genotypes (FairDARTS `DCOCell`) drop each computed
node's sum, identity-only nodes included, one mask per node in node order.
"""

from __future__ import annotations

import torch
from torch import nn

from ...genotype import Edge, Genotype, GenotypeError, computed_nodes, output_nodes
from ...ops import FactorizedReduce, Identity, ReLUConvBN, after_leading_relu, build_op, run_tail


def drop_path(x: torch.Tensor, drop_prob: float, inplace: bool = False) -> torch.Tensor:
    """Zero whole samples of a branch with probability drop_prob, rescaling the rest (one multiply;
    inplace=True for a fresh x that no backward keeps)."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep).div_(keep)
    return x.mul_(mask) if inplace else x * mask


class EvalCell(nn.Module):
    """A cell of fixed edges. fast=True: ops that start with a ReLU share one ReLU of their input
    state (and run inner ReLUs in place); fast=False runs every op as its own module.
    drop_nodes=True drops each node's sum (FairDARTS `DCOCell`), False each non-identity edge
    (DARTS `Cell`). forward(..., activated=True) takes inputs that already went through the
    preprocessing ReLU."""

    def __init__(self, edges: tuple[Edge, ...], concat: tuple[int, ...], c_prev_prev: int, c_prev: int,
                 c: int, reduction: bool, reduction_prev: bool, fast: bool = True, drop_nodes: bool = False):
        super().__init__()
        self.reduction = reduction
        self.fast = fast
        self.drop_nodes = drop_nodes
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(c_prev_prev, c)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        alive = set(computed_nodes(edges, concat)) | {0, 1}
        # Only edges from and to computed nodes are built: the rest never run.
        self.edges = tuple((dst, src) for _, dst, src in edges if dst in alive and src in alive)
        self.ops = nn.ModuleList(
            build_op(op, c, 2 if reduction and src < 2 else 1)
            for op, dst, src in edges if dst in alive and src in alive
        )
        self.nodes = tuple(sorted(alive - {0, 1}))
        self.concat = output_nodes(edges, concat)
        if not self.concat:
            raise GenotypeError(_empty_cell_reason("reduce" if reduction else "normal", edges, concat))
        self.multiplier = len(self.concat)
        self.refresh_tails()

    def refresh_tails(self) -> None:
        """Recompute each op's modules after its leading ReLU (after its modules were replaced)."""
        self.tails = [after_leading_relu(op) if self.fast else None for op in self.ops]
        self.preprocess_tails = [after_leading_relu(p) for p in (self.preprocess0, self.preprocess1)]

    def _preprocess(self, s: torch.Tensor, i: int, activated: bool) -> torch.Tensor:
        module = self.preprocess0 if i == 0 else self.preprocess1
        if not activated:
            return module(s)
        if isinstance(module, FactorizedReduce):
            return module.forward_activated(s)
        return run_tail(s, self.preprocess_tails[i])

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0,
                activated: bool = False) -> torch.Tensor:
        states = {0: self._preprocess(s0, 0, activated), 1: self._preprocess(s1, 1, activated)}
        relu_states: dict[int, torch.Tensor] = {}
        dropping = self.training and drop_prob > 0
        for node in self.nodes:
            total = None
            owned = False  # total is a fresh tensor of this node's, so the sum may grow in place
            for (dst, src), op, tail in zip(self.edges, self.ops, self.tails):
                if dst != node:
                    continue
                if tail is None:
                    h = op(states[src])
                else:
                    if src not in relu_states:
                        relu_states[src] = torch.relu(states[src])
                    h = run_tail(relu_states[src], tail)
                # Every op but the identity returns a fresh tensor that its backward does not keep
                # (BatchNorm, pooling and zero outputs), so the fast path scales and sums in place.
                identity = isinstance(op, Identity)
                fresh = self.fast and not identity
                if dropping and not identity and not self.drop_nodes:
                    h = drop_path(h, drop_prob, inplace=fresh)
                if total is None:
                    total, owned = h, fresh
                elif owned:
                    total.add_(h)
                else:
                    total, owned = total + h, self.fast
            if dropping and self.drop_nodes:
                total = drop_path(total, drop_prob, inplace=owned)
            states[node] = total
        return torch.cat([states[n] for n in self.concat], dim=1)


def _empty_cell_reason(kind: str, edges: tuple[Edge, ...], concat: tuple[int, ...]) -> str:
    """Why a cell computes none of its outputs: it kept no edge, or its kept edges do not connect the cell
    inputs to an output node (the intermediate nodes they leave from get no edge)."""
    if not edges:
        why = "the parse kept no edge"
    else:
        kept = ", ".join(f"{src}->{dst}" for _, dst, src in edges)
        empty = sorted({src for _, _, src in edges if src >= 2} - {dst for _, dst, _ in edges})
        why = f"its {len(edges)} kept edges ({kept}) connect none of them to the cell inputs"
        if empty:
            why += f" (no edge enters node {', '.join(map(str, empty))})"
    return f"the {kind} cell computes none of its output nodes {list(concat)}: {why}; no network can be built"


class AuxiliaryHead(nn.Sequential):
    """The DARTS auxiliary classifier: 8x8 input on CIFAR (pool stride 3), 14x14 on ImageNet (stride 2)."""

    def __init__(self, c: int, num_classes: int, pool_stride: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=pool_stride, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor, activated: bool = False) -> torch.Tensor:
        """activated=True: x already went through the head's leading ReLU."""
        h = x if activated else self.features[0](x)
        return self.classifier(self.features[1:](h).flatten(1))


class _CellStack(nn.Module):
    """Shared body: cells with reductions at 1/3 and 2/3 depth, aux head after the 2/3 cell."""

    def _build_cells(self, genotype: Genotype, c: int, layers: int, c_prev_prev: int, c_prev: int,
                     reduction_prev: bool, fast: bool = True) -> tuple[int, int]:
        self.cells = nn.ModuleList()
        self.aux_index = 2 * layers // 3
        c_aux = c_prev
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
            edges, concat = genotype.cell("reduce" if reduction else "normal")
            cell = EvalCell(edges, concat, c_prev_prev, c_prev, c, reduction, reduction_prev, fast,
                            drop_nodes=genotype.style == "edges")
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c
            if i == self.aux_index:
                c_aux = c_prev
        return c_aux, c_prev

    def _run_cells(self, s0: torch.Tensor, s1: torch.Tensor):
        """The cells from the stem's two outputs -> (last cell's output, aux logits or None).

        Fast path: every consumer of a cell's output (the next two cells' preprocessing, the
        auxiliary head) starts with a ReLU, so each output goes through one ReLU, in place (the cat
        that made it keeps nothing for backward), and the consumers skip theirs. The last output,
        which feeds the classifier, stays as it is. s0 and s1 come in activated on that path."""
        fast = self.fast
        logits_aux = None
        last = len(self.cells) - 1
        for i, cell in enumerate(self.cells):
            out = cell(s0, s1, self.drop_path_prob, activated=fast)
            if fast and i != last:
                out = torch.relu_(out)
            s0, s1 = s1, out
            if i == self.aux_index and self.auxiliary is not None and self.training:
                logits_aux = self.auxiliary(s1, activated=fast)
        return s1, logits_aux


class NetworkCIFAR(_CellStack):
    """The DARTS CIFAR evaluation network. forward -> (logits, aux_logits or None)."""

    def __init__(self, genotype: Genotype, init_channels: int = 36, layers: int = 20, num_classes: int = 10,
                 auxiliary: bool = True, stem_multiplier: int = 3, drop_path_prob: float = 0.0,
                 fast: bool = True):
        super().__init__()
        self.fast = fast
        self.drop_path_prob = drop_path_prob
        c_stem = stem_multiplier * init_channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        c_aux, c_prev = self._build_cells(genotype, init_channels, layers, c_stem, c_stem, False, fast)
        self.auxiliary = AuxiliaryHead(c_aux, num_classes, pool_stride=3) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor):
        s = self.stem(x)
        if self.fast:
            s = torch.relu_(s)  # a BatchNorm output: its backward does not need it
        out, logits_aux = self._run_cells(s, s)
        return self.classifier(self.global_pooling(out).flatten(1)), logits_aux


class NetworkImageNet(_CellStack):
    """The DARTS ImageNet mobile-setting network (C=48, 14 cells, 224x224 input)."""

    def __init__(self, genotype: Genotype, init_channels: int = 48, layers: int = 14, num_classes: int = 1000,
                 auxiliary: bool = True, drop_path_prob: float = 0.0, fast: bool = True):
        super().__init__()
        c = init_channels
        self.fast = fast
        self.drop_path_prob = drop_path_prob
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, c // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(inplace=True),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c),
        )
        self.stem1 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(c))
        c_aux, c_prev = self._build_cells(genotype, c, layers, c, c, True, fast)
        self.auxiliary = AuxiliaryHead(c_aux, num_classes, pool_stride=2) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor):
        s0 = self.stem0(x)
        s1 = self.stem1(s0)  # stem1 opens with an in-place ReLU: s0 is activated from here on
        if self.fast:
            s1 = torch.relu_(s1)
        out, logits_aux = self._run_cells(s0, s1)
        return self.classifier(self.global_pooling(out).flatten(1)), logits_aux
