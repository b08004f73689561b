"""P-DARTS (Chen et al., "Progressive Differentiable Architecture Search", ICCV 2019): DARTS in stages
of growing depth (5, 11, 17 cells) whose edges hold fewer ops (8, 5, 3), each stage a new supernet that
starts with weight-only epochs; dropout after every stride-1 skip; at most M skips in the normal cell.
As chenxin061/pdarts@b880e87 (train_search.py, model_search.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from fairdarts_core.genotype import Genotype
from fairdarts_core.spaces.base import activated
from fairdarts_core.variant import Progress, Stage, Variant


@dataclass(frozen=True)
class PDARTS(Variant):
    name = "p_darts"
    summary = "P-DARTS (3 stages of 5/11/17 cells and 8/5/3 ops, skip dropout, at most 2 skips in the normal cell)"
    # CIFAR-10 search: 3 x 25 epochs from 5 cells, batch 96, SGD 0.025 -> 0, Adam 6e-4 (betas 0.5, 0.999),
    # arch gradients clipped to 5, first order.
    paper_search = MappingProxyType({"epochs": 75, "layers": 5, "batch_size": 96, "learning_rate": 0.025,
                                     "learning_rate_min": 0.0, "arch_learning_rate": 6e-4, "arch_beta1": 0.5,
                                     "arch_grad_clip": 5.0, "order": "first"})

    with_none: bool | None = True  # the 'none' op in the DARTS space: P-DARTS searches the 8 DARTS ops, 'none' included
    add_layers: tuple[int, ...] = (0, 6, 12)  # cells each stage adds to the layers (paper: 5 -> 5, 11, 17); one entry per stage
    num_to_keep: tuple[int, ...] = (5, 3, 1)  # ops each edge keeps after each stage (8 -> 5 -> 3 -> 1), decreasing to 1
    skip_dropout: tuple[float, ...] = (0.1, 0.4, 0.7)  # skip dropout per stage: the official README's (paper's 0,0.4,0.7 unverified)
    skip_dropout_decay: float = 0.2  # after the warm-up the rate decays as exp(-decay * epochs since it)
    warmup_fraction: float = 0.4  # share of each stage's epochs without arch steps (P-DARTS official: 10 of 25)
    max_skips: int = 2  # most skip_connects in the parsed normal cell (M): weakest skips removed, edges re-picked

    def __post_init__(self) -> None:
        for name in ("add_layers", "num_to_keep", "skip_dropout"):  # lists from JSON / YAML settings
            object.__setattr__(self, name, tuple(getattr(self, name)))
        super().__post_init__()
        keep, n = self.num_to_keep, len(self.add_layers)
        if not n or len(keep) != n or len(self.skip_dropout) != n:
            raise ValueError("add_layers, num_to_keep and skip_dropout need one entry per stage")
        if keep[-1] != 1 or any(a <= b for a, b in zip(keep, keep[1:])) or min(self.add_layers) < 0:
            raise ValueError(f"num_to_keep must decrease to 1 and add_layers be >= 0, got {keep}, {self.add_layers}")
        if not all(0 <= r < 1 for r in self.skip_dropout) or not 0 <= self.warmup_fraction < 1:
            raise ValueError("skip_dropout rates and warmup_fraction must be in [0, 1)")
        if self.max_skips < 0 or self.skip_dropout_decay < 0:
            raise ValueError("max_skips and skip_dropout_decay must be >= 0")

    def check_space(self, space) -> None:
        super().check_space(space)
        if space.family != "darts" or len(self.primitives(space)) <= self.num_to_keep[0]:
            raise ValueError(f"P-DARTS needs a DARTS cell with more than {self.num_to_keep[0]} ops per edge")

    # ----- stages -------------------------------------------------------------------------------
    def plan(self, epochs: int, cells: int, space) -> tuple[Stage, ...]:
        """Epochs split evenly, the remainder to the first stages; stages left without epochs are dropped."""
        n = len(self.add_layers)
        return tuple(Stage(e, cells + add) for s, add in enumerate(self.add_layers)
                     if (e := epochs // n + (s < epochs % n)) > 0)

    def between_stages(self, weights, done: Stage, nxt: Stage, space, primitives) -> Stage:
        return pruned_stage(weights, done, nxt, space, primitives, lambda n: next(k for k in self.num_to_keep if k < n))

    def warmup(self, stage_epochs: int) -> int:
        return round(self.warmup_fraction * stage_epochs)

    def arch_step(self, progress: Progress) -> bool:
        return progress.stage_epoch >= self.warmup(progress.stage_epochs)

    def dropout_p(self, rate: float, e: int, epochs: int) -> float:
        """The skip dropout of stage epoch e: falling linearly in the warm-up, then exponentially from `rate`."""
        w = self.warmup(epochs)
        return rate * (epochs - e - 1) / epochs if e < w else rate * math.exp(-(e - w) * self.skip_dropout_decay)

    def hooks(self, net, progress: Progress) -> list:
        rate = self.skip_dropout[progress.stage]
        if rate <= 0:
            return []
        p = self.dropout_p(rate, progress.stage_epoch, progress.stage_epochs)
        return [skip.register_forward_hook(lambda m, i, out: dropout(out, p, m.training)) for skip in net.skip_ops()]

    # ----- discretization -------------------------------------------------------------------------
    def parse(self, weights, space, primitives, masks=None) -> Genotype:
        """Per node the 2 edges whose best non-'none' op weighs most (ties: the later edge; best op ties:
        the later op), then in the normal cell: while it has more than max_skips skips, the skip of least
        weight leaves its edge's candidates and ops and edges are picked again."""
        if self.resolved_parse(space) != "darts":
            return super().parse(weights, space, primitives, masks)
        cells, primitives, weights = {}, list(primitives), activated(weights)
        sk = primitives.index("skip_connect") if "skip_connect" in primitives else None
        for kind in space.cell_kinds:
            w = weights[kind]
            usable = (np.ones(w.shape, bool) if masks is None else np.asarray(masks[kind], bool)).copy()
            usable[:, [k for k, op in enumerate(primitives) if op == "none"]] = False
            chosen = pick(w, usable, space)
            while kind == "normal" and sk is not None and list(chosen.values()).count(sk) > self.max_skips:
                usable[min((e for e, k in chosen.items() if k == sk), key=lambda e: w[e, sk]), sk] = False
                chosen = pick(w, usable, space)
            edges = [(primitives[chosen[e]], dst, src) for e, (src, dst) in enumerate(space.edges) if e in chosen]
            cells[kind] = (edges, range(space.num_inputs, space.num_inputs + space.num_nodes))
        return Genotype.of(cells, style="pairs")


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor | None:
    """nn.Dropout(p), its mask drawn in NCHW order so that channels_last tensors get the same one."""
    if not training or p == 0:
        return None
    return x * torch.empty(x.shape, dtype=x.dtype, device=x.device).bernoulli_(1 - p).div_(1 - p)


def pruned_stage(weights, done: Stage, nxt: Stage, space, primitives, keep) -> Stage:
    """Stage `nxt` with each edge keeping `keep(ops it holds)` of the ops it held in stage `done`, the
    best by that stage's final weights (`prune`)."""
    every = {kind: (tuple(primitives),) * len(space.edges) for kind in space.cell_kinds}
    held = done.edge_ops() or space.edge_ops or every
    ops = tuple((kind, tuple(prune(np.asarray(weights[kind][e]), ops, primitives, keep(len(ops)))
                             for e, ops in enumerate(held[kind]))) for kind in space.cell_kinds)
    return Stage(nxt.epochs, nxt.cells, ops)


def prune(row: np.ndarray, held, primitives, keep: int) -> tuple[str, ...]:
    """The `keep` ops of `held` left after dropping the lowest weights, ties: the earlier op goes first
    (official get_min_k; its get_min_k_no_zero, down to one op, is the parse's best non-'none' op)."""
    column = list(primitives).index
    held = sorted(held, key=column)
    dropped = set(sorted(held, key=lambda op: row[column(op)])[:len(held) - keep])
    return tuple(op for op in held if op not in dropped)


def pick(w: np.ndarray, usable: np.ndarray, space) -> dict[int, int]:
    """{edge: op} of the 2 kept edges per node: best usable op per edge (ties: the later op), edges by that
    op's weight, a stable ascending sort and the last two (ties: the later edge), as the official code."""
    best = {e: int(ks[np.flatnonzero(w[e, ks] == w[e, ks].max())[-1]]) for e in range(len(w))
            if len(ks := np.flatnonzero(usable[e]))}
    chosen = {}
    for _, first, end in space.node_rows():
        ranked = sorted(range(first, end), key=lambda e: w[e, best[e]] if e in best else -np.inf)
        chosen.update({e: best[e] for e in ranked[-2:] if e in best})
    return chosen
