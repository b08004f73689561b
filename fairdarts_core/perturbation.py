"""DARTS-PT: perturbation-based architecture selection on a finished search's supernet (Wang et al., ICLR 2021,
"Rethinking architecture selection in differentiable NAS"; official sota/cnn/projection.py and
nasbench201/projection.py).

Edge by edge (in a random order), each op of the edge is masked in turn (its weight set to 0 in the weights
given to the supernet) and the supernet's accuracy (or loss) on the search's validation half is measured; the
edge keeps the op whose removal hurts most. Then, in DARTS-cell spaces, node by node, incoming edges are masked
one at a time and the one whose removal hurts least is dropped until two remain (NB201 keeps every edge).
Between decisions the supernet is fine-tuned with the search's own steps on the weights decided so far.

The space's part is `node_inputs` (how many inputs a node keeps; None: no node step); the rest is generic.
"""

from __future__ import annotations

import ast
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import load_checkpoint
from .data import ImageSet
from .genotype import Genotype
from .search import SearchBatches, Tally
from .search_config import SearchConfig
from .search_run import XY, SearchRun
from .spaces import SearchSpace
from .variant import Options, Progress, Stage, Variant

METHOD = "perturbation"  # its name among the parse methods (fairdarts_core.spaces.base.SELECTION_METHODS)
OFFICIAL_PROJ_INTV = 5  # the official scripts' --proj_intv (exp_scripts/darts-proj-*.sh)
# Inputs a node keeps after the node step, by genotype family; None: no node step (every edge is kept).
NODE_INPUTS: dict[str, int | None] = {"darts": 2, "nb201": None}


@dataclass(frozen=True)
class PTOptions(Options):
    """The settings of a perturbation-based selection (defaults: the official scripts')."""

    name = METHOD
    summary = "DARTS-PT perturbation-based selection on the search's supernet"

    criterion: Literal["acc", "loss"] = "acc"  # what a masked op or edge is judged by on the validation half: accuracy (official) or loss
    proj_intv: int | None = None  # fine-tuning epochs between decisions; unset: the official 5 at the paper search's epochs, scaled to this search's (rounded; 0: no fine-tuning)
    edge_order: Literal["random", "index"] = "random"  # the order edges and nodes are decided in: random (official) or index order
    seed: int | None = None  # seeds the random order; unset: the search's seed
    val_batches: int = 0  # validation batches every candidate is judged on (0: the whole validation half, official)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.proj_intv is not None and self.proj_intv < 0:
            raise ValueError(f"proj_intv must be >= 0, got {self.proj_intv}")
        if self.val_batches < 0:
            raise ValueError(f"val_batches must be >= 0, got {self.val_batches}")


def node_inputs(space: SearchSpace) -> int | None:
    """Inputs each node keeps after the node step: 2 in DARTS-cell spaces, None (no node step) in NB201."""
    if space.family not in NODE_INPUTS:
        raise ValueError(f"perturbation selection knows no node rule for {space.family} genotypes; "
                         f"known: {', '.join(NODE_INPUTS)}")
    return NODE_INPUTS[space.family]


# ----- the weights with the decisions applied ----------------------------------------------------------
@dataclass
class Projection:
    """The decisions so far: per cell kind, the op each decided edge keeps and the edges nodes dropped."""

    ops: dict[str, dict[int, int]]
    dropped: dict[str, set[int]]

    @classmethod
    def empty(cls, kinds: Iterable[str]) -> Projection:
        return cls({k: {} for k in kinds}, {k: set() for k in kinds})

    def apply(self, weights: Mapping[str, torch.Tensor], mask: tuple[str, int, int | None] | None = None
              ) -> dict[str, torch.Tensor]:
        """The weights with each decided edge one-hot on its op, dropped edges 0, and `mask` (kind, edge,
        op or None for the whole edge) set to 0, as the official get_projected_weights and proj_mask."""
        out = {}
        for kind, w in weights.items():
            keep, fixed = torch.ones_like(w), torch.zeros_like(w)
            for e, k in self.ops[kind].items():
                keep[e] = 0
                fixed[e, k] = 1
            for e in self.dropped[kind]:
                keep[e] = 0
                fixed[e] = 0
            w = w * keep + fixed
            if mask is not None and mask[0] == kind:
                zero = torch.ones_like(w)
                if mask[2] is None:
                    zero[mask[1]] = 0
                else:
                    zero[mask[1], mask[2]] = 0
                w = w * zero
            out[kind] = w
        return out


class ProjectedVariant:
    """A variant whose weights carry the decisions so far: what the fine-tuning steps train with."""

    def __init__(self, variant: Variant, projection: Projection):
        self.variant, self.projection = variant, projection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.variant, name)

    def weights(self, arch: Mapping[str, torch.Tensor], space) -> dict[str, torch.Tensor]:
        return self.projection.apply(self.variant.weights(arch, space))

    def train_weights(self, arch: Mapping[str, torch.Tensor], space, progress) -> dict[str, torch.Tensor]:
        return self.projection.apply(self.variant.train_weights(arch, space, progress))


# ----- one selection ---------------------------------------------------------------------------------
@dataclass
class Selection:
    """A selection's result: the genotype, every decision with its criterion values, the fine-tuning
    history (one row per epoch), the final projected weights, the options used and the seconds."""

    genotype: Genotype
    decisions: list[dict[str, Any]]
    history: list[dict[str, Any]]
    weights: dict[str, list]
    options: dict[str, Any]
    seconds: float = 0.0
    order: dict[str, Any] = field(default_factory=dict)


def criterion_of(model: torch.nn.Module, weights: Mapping[str, torch.Tensor], batches: Iterable[XY]
                 ) -> tuple[float, float]:
    """(accuracy %, mean loss) of the supernet on the batches, in training mode (batch statistics) and without
    gradients, as the official infer(..., _eval=False)."""
    model.train()
    correct, loss, n = 0.0, 0.0, 0
    with torch.no_grad():
        for x, y in batches:
            logits = model(x, weights)
            loss += F.cross_entropy(logits, y).item() * y.numel()
            correct += (logits.argmax(1) == y).sum().item()
            n += y.numel()
    return 100.0 * correct / max(n, 1), loss / max(n, 1)


def decision_order(space: SearchSpace, options: PTOptions, seed: int) -> dict[str, dict[str, list[int]]]:
    """{"edges": {kind: edge rows}, "nodes": {kind: nodes}} in the order they are decided (random: one
    permutation per kind and step, from `seed`)."""
    keep = node_inputs(space)
    nodes = [node for node, a, b in space.node_rows() if keep is not None and b - a > keep]
    rng = np.random.default_rng(seed)
    order: dict[str, dict[str, list[int]]] = {"edges": {}, "nodes": {}}
    for kind in space.cell_kinds:
        edges = list(range(len(space.edges)))
        random = options.edge_order == "random"
        order["edges"][kind] = [int(e) for e in rng.permutation(edges)] if random else edges
        order["nodes"][kind] = [int(n) for n in rng.permutation(nodes)] if random and nodes else list(nodes)
    return order


def gaps(decisions: int, proj_intv: int, node_step: bool) -> list[int]:
    """Fine-tuning epochs before each decision, as the official loops: proj_intv between decisions; NB201's
    loop (tune_epochs = proj_intv * (edges - 1), the last edge at its last epoch) takes one epoch less
    before the last."""
    out = [0] + [proj_intv] * (decisions - 1)
    if not node_step and decisions > 1:
        out[-1] = max(proj_intv - 1, 0)
    return out


def select(run: SearchRun, options: PTOptions, criterion_batches: Callable[[], Iterable[XY]],
           tune_batches: Callable[[int], Iterable[tuple[XY, XY | None]]], proj_intv: int,
           order: Mapping[str, Mapping[str, list[int]]], progress: Progress,
           on_decision: Callable[[dict[str, Any]], None] | None = None) -> Selection:
    """Select a genotype on `run`'s supernet (its current stage, weights and optimizers).

    criterion_batches(): the batches every candidate is judged on; tune_batches(t): the (train, val or None)
    batch pairs of fine-tuning epoch t; order: `decision_order`'s; progress: the search's last epoch (hooks,
    sampled weights and the arch-step rule read it)."""
    began = time.perf_counter()
    space, model, variant = run.space, run.model, run.variant
    primitives = run.primitives
    masks = model.op_masks()
    projection = Projection.empty(space.cell_kinds)
    keep = node_inputs(space)
    rows = {node: list(range(a, b)) for node, a, b in space.node_rows()}
    steps = [("op", {kind: order["edges"][kind][i] for kind in space.cell_kinds}) for i in range(len(space.edges))]
    n_nodes = len(next(iter(order["nodes"].values()))) if order["nodes"] else 0
    steps += [("node", {kind: order["nodes"][kind][i] for kind in space.cell_kinds}) for i in range(n_nodes)]
    before = gaps(len(steps), proj_intv, keep is not None)

    run.variant = ProjectedVariant(variant, projection)
    run.progress = progress
    handles = variant.hooks(model, progress)
    decisions: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    tune_epoch = 0
    try:
        for step, ((what, where), gap) in enumerate(zip(steps, before)):
            for _ in range(gap):
                history.append(_tune(run, tune_batches(tune_epoch), tune_epoch, step))
                tune_epoch += 1
            with torch.no_grad():
                base = {k: w.detach() for k, w in variant.weights(model.masked(dict(model.arch)), space).items()}
            for kind in space.cell_kinds:
                if what == "op":
                    decision = _decide_op(model, projection, base, kind, where[kind], masks, primitives, space,
                                          options.criterion, criterion_batches)
                    projection.ops[kind][where[kind]] = decision["op_index"]
                else:
                    decision = _decide_node(model, projection, base, kind, where[kind], rows[where[kind]], keep,
                                            space, options.criterion, criterion_batches)
                    projection.dropped[kind].update(decision["dropped_rows"])
                decision.update(step=step, tuned_epochs=tune_epoch)
                decisions.append(decision)
                if on_decision is not None:
                    on_decision(decision)
        with torch.no_grad():
            final = projection.apply({k: w.detach() for k, w in variant.weights(model.masked(dict(model.arch)),
                                                                                space).items()})
    finally:
        for handle in handles:
            handle.remove()
        run.variant = variant
    np_weights = {k: w.cpu().double().numpy() for k, w in final.items()}
    np_masks = {k: m.cpu().numpy() for k, m in masks.items()} or None
    genotype = space.parse(np_weights, space.parse_methods[0], 0.0, primitives, np_masks)
    return Selection(genotype, decisions, history, {k: w.tolist() for k, w in np_weights.items()},
                     {**options.options(), "proj_intv": proj_intv}, time.perf_counter() - began,
                     {k: dict(v) for k, v in order.items()})


def _candidate_ops(masks: Mapping[str, torch.Tensor], kind: str, edge: int, n_ops: int) -> list[int]:
    if kind in masks:
        return [int(k) for k in torch.nonzero(masks[kind][edge]).flatten()]
    return list(range(n_ops))


def _decide_op(model, projection: Projection, base, kind: str, edge: int, masks, primitives, space, criterion: str,
               batches: Callable[[], Iterable[XY]]) -> dict[str, Any]:
    """Mask each op of `edge` in turn; the op whose removal hurts most (lowest accuracy or highest loss, the
    first on ties) is kept (official project_op)."""
    candidates, best = [], None
    for k in _candidate_ops(masks, kind, edge, len(primitives)):
        acc, loss = criterion_of(model, projection.apply(base, (kind, edge, k)), batches())
        candidates.append({"op": primitives[k], "acc": acc, "loss": loss})
        value = acc if criterion == "acc" else loss
        if best is None or (value < best[1] if criterion == "acc" else value > best[1]):
            best = (k, value)
    src, dst = space.edges[edge]
    return {"kind": "op", "cell": kind, "edge": edge, "src": src, "dst": dst, "candidates": candidates,
            "op": primitives[best[0]], "op_index": best[0]}


def _decide_node(model, projection: Projection, base, kind: str, node: int, node_rows: list[int], keep: int,
                 space, criterion: str, batches: Callable[[], Iterable[XY]]) -> dict[str, Any]:
    """Drop, one at a time, the incoming edge whose removal hurts least (highest accuracy or lowest loss, the
    last on ties) until `keep` remain (official project_edge; an edge dropped earlier is not masked in later
    rounds, as there)."""
    remaining, rounds = list(node_rows), []
    while len(remaining) > keep:
        candidates, worst = [], None
        for e in remaining:
            acc, loss = criterion_of(model, projection.apply(base, (kind, e, None)), batches())
            candidates.append({"src": space.edges[e][0], "edge": e, "acc": acc, "loss": loss})
            value = acc if criterion == "acc" else loss
            if worst is None or (value >= worst[1] if criterion == "acc" else value <= worst[1]):
                worst = (e, value)
        remaining.remove(worst[0])
        rounds.append({"candidates": candidates, "dropped": space.edges[worst[0]][0]})
    dropped = [e for e in node_rows if e not in remaining]
    return {"kind": "node", "cell": kind, "node": node, "rounds": rounds,
            "kept": [space.edges[e][0] for e in remaining], "dropped_rows": dropped}


def _tune(run: SearchRun, pairs: Iterable[tuple[XY, XY | None]], epoch: int, before_step: int) -> dict[str, Any]:
    """One fine-tuning epoch with the search's steps on the projected weights; its record."""
    began = time.perf_counter()
    run.model.train()
    tally = Tally.zeros(run.device)
    for train_xy, val_xy in pairs:
        result = run.step(train_xy, val_xy)
        tally.add(result, train_xy[1], None if val_xy is None else val_xy[1])
    return {"epoch": epoch, "before_decision": before_step, "lr": run.w_optimizer.param_groups[0]["lr"],
            **tally.means(), "seconds": time.perf_counter() - began}


# ----- from a search's checkpoint ----------------------------------------------------------------------
@dataclass
class LoadedSearch:
    """A finished search rebuilt from its checkpoint: the run at its last stage, its final progress."""

    run: SearchRun
    progress: Progress


def load_search(path: str | Path, num_classes: int, device: torch.device | str = "cpu") -> LoadedSearch:
    """The search whose checkpoint is `path`, rebuilt at its last stage with its supernet, optimizers and
    schedule; a search that has not finished is an error."""
    from variants import make_variant

    state = load_checkpoint(path, kind="search")
    options = ast.literal_eval(state["variant_options"])  # the repr of a dict of plain values
    variant = make_variant(state["variant"], **options)
    run = SearchRun(variant, SearchConfig(**state["config"]), device)
    stage_epoch = run.resume_plan(state)
    stages: list[Stage] = run.stages
    if run.stage != len(stages) - 1 or stage_epoch != stages[-1].epochs:
        done = sum(s.epochs for s in stages[:run.stage]) + stage_epoch
        raise ValueError(f"{path}: the search has not finished ({done} of {sum(s.epochs for s in stages)} epochs)")
    run.start_stage(num_classes, run.stage)
    run.load_state(state)
    total = sum(s.epochs for s in stages)
    last = stages[-1].epochs
    return LoadedSearch(run, Progress(len(stages) - 1, len(stages), total - 1, total, last - 1, last))


def reset_weight_optimizer(run: SearchRun) -> None:
    """A fresh SGD on the supernet's weights at a tenth of the search's initial learning rate, constant (the
    official reset_optimizer(learning_rate / 10, ...); its scheduler is never stepped)."""
    config = run.config
    run.w_optimizer = torch.optim.SGD(run.model.weight_parameters(), config.learning_rate / 10,
                                      momentum=config.momentum, weight_decay=config.weight_decay,
                                      nesterov=config.nesterov)


def default_proj_intv(run: SearchRun) -> int:
    """The official 5 epochs between decisions, scaled by this search's epochs over the paper search's."""
    from .sizes import PRESETS

    paper = PRESETS.get("paper").search_config(run.variant, {"space": run.config.space}).epochs
    return int(round(OFFICIAL_PROJ_INTV * run.config.epochs / paper))


def select_from_checkpoint(path: str | Path, train_set: ImageSet, options: PTOptions | None = None,
                           device: torch.device | str = "cpu",
                           on_decision: Callable[[dict[str, Any]], None] | None = None) -> Selection:
    """Run the selection on the search whose checkpoint is `path`, with its data (`train_set`, split and
    batched as the search did): candidates judged on the validation half, fine-tuning on the search's
    batches at a tenth of its initial learning rate (a fresh SGD, as the official reset_optimizer), its arch
    optimizer continued."""
    options = options or PTOptions()
    loaded = load_search(path, train_set.num_classes, device)
    run, progress = loaded.run, loaded.progress
    config = run.config
    batches = SearchBatches.split(train_set, config, run.device)
    reset_weight_optimizer(run)
    proj_intv = default_proj_intv(run) if options.proj_intv is None else options.proj_intv
    order = decision_order(run.space, options, config.seed if options.seed is None else options.seed)
    steps_arch = not config.single_level and run.variant.arch_step(progress)
    crit_epoch = progress.epochs  # one fixed draw of the validation half, the same for every candidate

    def tune_batches(t: int) -> Iterable[tuple[XY, XY | None]]:
        epoch = progress.epochs + 1 + t  # the data order continues after the search's epochs
        val = batches.val_stream(epoch)
        return ((xy, next(val) if steps_arch else None) for xy in batches.train.epoch(epoch))

    def criterion_batches() -> Iterable[XY]:
        return itertools.islice(batches.val.epoch(crit_epoch), options.val_batches or None)

    return select(run, options, criterion_batches, tune_batches, proj_intv, order, progress, on_decision)
