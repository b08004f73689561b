"""The official code's released CIFAR checkpoints, loaded into our `NetworkCIFAR`.

Two formats: xiaomi-automl/FairDARTS saves a dict whose `state_dict` holds the network's weights
(keys prefixed with `module.` when it trained under DataParallel), quark0/darts saves the bare
`model.state_dict()` (`weights.pt`). Both are read with `torch.load(..., weights_only=True)`; a file
that needs unpickling code is refused, never loaded another way.

Name mapping (official -> ours), per cell `cells.I.`:

    preprocess0/1 ReLUConvBN   preprocessN.op.J.*          -> preprocessN.J.*
    FactorizedReduce           conv_1 / conv_2 / bn         -> the same
    edge ops, DARTS `Cell`     _ops.E.*  (E: the genotype's edge order, two per node)
    edge ops, FairDARTS `DCOCell` _ops.TO.FROM.K.*  (K: the K-th op listed on edge FROM->TO)
                               -> ops.N.*  (N: our op index, the genotype's order over built edges)
    SepConv (one Sequential of 8)  op.J.*                   -> (J // 4).(J % 4).*  (two DilConv blocks)
    DilConv                    op.J.*                       -> J.*
    conv_7x1_1x7, FactorizedReduce (skip_connect, stride 2): the same names
    auxiliary_head.*           -> auxiliary.*  (the same Sequential indices)
    stem.*, classifier.*       -> the same

Every official key must land on one of ours with the same shape and every key of ours must be
filled, except `num_batches_tracked` buffers, which older torch did not save (ours are kept).

Ignored nodes: the official `DCOCell` builds an op for every edge of the genotype, also for an edge
whose source node has no input (an ignored node; FairDARTS_c and _g have such skip_connect edges).
Its forward skips those edges, so their weights are never used. Our cell does not build them:
their keys are accepted without a counterpart and listed in `OfficialLoad.unused`. The official
`DCOCell` also concatenates every node that is some edge's target, in the order the genotype first
names them, while ours concatenates the computed nodes of the concat list; a genotype on which the
two differ is refused rather than loaded into a different computation.
"""

from __future__ import annotations

import pickle
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import CheckpointError
from .genotype import Genotype, computed_nodes
from .ops import DilConv, ReLUConvBN, SepConv

# The network the official code evaluates its released CIFAR checkpoints with.
PAPER_NETWORK = {"init_channels": 36, "layers": 20}

OFFICIAL_AUX = "auxiliary_head."
_DP_PREFIX = "module."
_DCO_KEY = re.compile(r"cells\.(\d+)\._ops\.(\d+)\.(\d+)\.(\d+)\.")
_CELL_KEY = re.compile(r"cells\.\d+\._ops\.\d+\.")
_OUR_OP_KEY = re.compile(r"cells\.(\d+)\.ops\.(\d+)\.(.+)")
_OUR_PRE_KEY = re.compile(r"cells\.(\d+)\.(preprocess[01])\.(.+)")

LAYOUTS = {"cell": "DARTS Cell", "dco": "FairDARTS DCOCell"}
NUM_INPUTS = 2  # a DARTS cell's input nodes 0 and 1


class OfficialCheckpointError(CheckpointError):
    """An official checkpoint that does not fit our network of the genotype."""


@dataclass(frozen=True)
class OfficialLoad:
    layout: str  # "cell" (DARTS Cell, _ops.E) or "dco" (FairDARTS DCOCell, _ops.TO.FROM.K)
    unused: tuple[str, ...]  # official keys of edges from ignored nodes (never used by either network)


def read_checkpoint(path: str | Path) -> Any:
    """torch.load(path, map_location="cpu", weights_only=True) with one-line errors: a missing file, a
    corrupt one, and one whose pickle needs code to unpickle (refused, not loaded another way)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        needs = _needs_code(str(err))
        if needs is not None:
            raise CheckpointError(f"checkpoint {path} needs unpickling code ({needs}), which loading with "
                                  f"weights_only=True refuses; re-save its state_dict alone to evaluate it") from None
        raise CheckpointError(f"checkpoint {path} is corrupt or not a checkpoint (UnpicklingError)") from None
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(f"checkpoint {path} is corrupt or not a checkpoint ({type(err).__name__})") from None


def _needs_code(message: str) -> str | None:
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return found.group(1)
    if "Can only build" in message or "Can only create new object" in message:
        return "an object other than tensors and containers"
    return None


def official_state_dict(payload: Any, path: str | Path = "") -> dict[str, torch.Tensor] | None:
    """The network weights of an official checkpoint, `module.` prefixes removed; None for anything
    else (our checkpoints carry a 'kind')."""
    if not isinstance(payload, Mapping) or "kind" in payload:
        return None
    if "state_dict" in payload:
        state = payload["state_dict"]
        if not isinstance(state, Mapping) or not state or not all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
            raise OfficialCheckpointError(f"checkpoint {path}: its 'state_dict' is not a dict of tensors")
    elif payload and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload.items()):
        state = payload
    else:
        return None
    if all(k.startswith(_DP_PREFIX) for k in state):
        state = {k[len(_DP_PREFIX):]: v for k, v in state.items()}
    if not any(k.startswith("stem.") for k in state) or not any(k.startswith("cells.") for k in state):
        if "state_dict" in payload:
            raise OfficialCheckpointError(f"checkpoint {path}: its 'state_dict' has no stem.* and cells.* keys "
                                          f"of a DARTS CIFAR network")
        return None
    return dict(state)


def has_auxiliary_head(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether the official network was built with its auxiliary head (trained with --auxiliary)."""
    return any(k.startswith(OFFICIAL_AUX) for k in state)


def checkpoint_epoch(payload: Any) -> int | None:
    """The file's 'epoch' entry (FairDARTS saves the number of epochs trained), if any."""
    epoch = payload.get("epoch") if isinstance(payload, Mapping) else None
    return epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None


def detect_layout(state: Mapping[str, torch.Tensor], genotype: Genotype) -> str:
    """'dco' for FairDARTS DCOCell keys (_ops.TO.FROM.K), 'cell' for DARTS Cell keys (_ops.E); from the
    keys, or from the genotype's style when no op has weights."""
    dco = any(_DCO_KEY.match(k) for k in state)
    cell = any(_CELL_KEY.match(k) and not _DCO_KEY.match(k) for k in state)
    if dco and cell:
        raise OfficialCheckpointError("its cell ops mix DARTS Cell keys (_ops.E) and FairDARTS DCOCell keys "
                                      "(_ops.TO.FROM.K)")
    if dco or cell:
        return "dco" if dco else "cell"
    return "cell" if genotype.style == "pairs" else "dco"


def _check_same_computation(genotype: Genotype, layout: str, cells: nn.ModuleList) -> None:
    """Refuse a genotype on which the official cell computes something else than ours."""
    for kind in ("normal", "reduce"):
        edges, concat = genotype.cell(kind)
        ours = next((c for c in cells if c.reduction == (kind == "reduce")), None)
        if ours is None:
            continue
        if layout == "cell":
            ok = len(edges) % 2 == 0 and all(dst == NUM_INPUTS + i // 2 for i, (_, dst, _) in enumerate(edges))
            if not ok or len(ours.ops) != len(edges):
                raise OfficialCheckpointError(f"a DARTS Cell checkpoint needs two edges per node, in node order; "
                                              f"the genotype's {kind} cell is not of that form")
            continue
        # The official DCOCell: nodes in the order the genotype first names them as a target; an edge
        # from a node not computed yet is skipped; the output concatenates all those nodes.
        states, used = {0, 1}, set()
        for dst in dict.fromkeys(dst for _, dst, _ in edges):
            inputs = {(dst, src) for _, d, src in edges if d == dst and src in states}
            if not inputs:
                raise OfficialCheckpointError(f"the official DCOCell cannot run the genotype's {kind} cell: node "
                                              f"{dst} gets no computed input")
            used |= inputs
            states.add(dst)
        official_concat = list(dict.fromkeys(dst for _, dst, _ in edges))
        if official_concat != list(ours.concat) or used != set(ours.edges):
            raise OfficialCheckpointError(
                f"the official DCOCell computes the genotype's {kind} cell differently from ours (it concatenates "
                f"nodes {official_concat}, ours {list(ours.concat)}, computed nodes "
                f"{list(computed_nodes(edges, concat))})")


def _op_rest(op: nn.Module, rest: str) -> str:
    """Our name inside an op -> the official one."""
    if isinstance(op, SepConv):
        block, index, leaf = rest.split(".", 2)
        return f"op.{4 * int(block) + int(index)}.{leaf}"
    if isinstance(op, (DilConv, ReLUConvBN)):
        return f"op.{rest}"
    return rest  # FactorizedReduce, conv_7x1_1x7: the same names


def official_names(model: nn.Module, genotype: Genotype, layout: str) -> dict[str, str]:
    """Our state-dict key -> the official one, for every key of `model` (a NetworkCIFAR)."""
    names = {}
    for key in model.state_dict():
        if key.startswith("auxiliary."):
            names[key] = OFFICIAL_AUX + key[len("auxiliary."):]
        elif match := _OUR_PRE_KEY.fullmatch(key):
            i, which, rest = match.groups()
            module = getattr(model.cells[int(i)], which)
            names[key] = f"cells.{i}.{which}.{_op_rest(module, rest)}"
        elif match := _OUR_OP_KEY.fullmatch(key):
            i, j, rest = int(match.group(1)), int(match.group(2)), match.group(3)
            cell = model.cells[i]
            if layout == "cell":
                where = f"{j}"  # all edges are built: our index is the genotype's
            else:
                dst, src = cell.edges[j]
                k = sum(1 for e in cell.edges[:j] if e == (dst, src))
                where = f"{dst}.{src}.{k}"
            names[key] = f"cells.{i}._ops.{where}.{_op_rest(cell.ops[j], rest)}"
        else:
            names[key] = key  # stem, classifier
    return names


def _unused_edge_key(key: str, model: nn.Module, genotype: Genotype) -> bool:
    """An official DCOCell key of an edge that our cell does not build (its source node is ignored)."""
    match = _DCO_KEY.match(key)
    if not match:
        return False
    i, dst, src, k = (int(g) for g in match.groups())
    if i >= len(model.cells):
        return False
    cell = model.cells[i]
    edges, _ = genotype.cell("reduce" if cell.reduction else "normal")
    listed = Counter((d, s) for _, d, s in edges)[(dst, src)]
    return k < listed and (dst, src) not in set(cell.edges)


def load_official(model: nn.Module, state: Mapping[str, torch.Tensor], genotype: Genotype) -> OfficialLoad:
    """Fill `model` (our NetworkCIFAR of `genotype`, auxiliary head built iff the checkpoint has one)
    from an official state dict (`official_state_dict`); one-line OfficialCheckpointError for an
    official key without counterpart, a key of ours left unfilled, or a shape that differs."""
    if getattr(genotype, "family", "darts") != "darts":
        raise OfficialCheckpointError(f"official checkpoints are DARTS-family networks, not {genotype.family!r}")
    layout = detect_layout(state, genotype)
    _check_same_computation(genotype, layout, model.cells)
    ours = model.state_dict()
    names = official_names(model, genotype, layout)
    by_official = {official: key for key, official in names.items()}
    c = model.stem[0].out_channels // 3
    network = f"our network: C={c}, {len(model.cells)} cells, {model.classifier.out_features} classes"
    filled, unused = {}, []
    for key, tensor in state.items():
        mine = by_official.get(key)
        if mine is None:
            if layout == "dco" and _unused_edge_key(key, model, genotype):
                unused.append(key)
                continue
            raise OfficialCheckpointError(f"official key {key} has no counterpart in {network}")
        if tensor.shape != ours[mine].shape:
            raise OfficialCheckpointError(f"official key {key} has shape {list(tensor.shape)}, our {mine} "
                                          f"{list(ours[mine].shape)} ({network})")
        filled[mine] = tensor
    for key, official in names.items():
        if key not in filled and not key.endswith("num_batches_tracked"):
            raise OfficialCheckpointError(f"the checkpoint lacks official key {official} (our {key}; {network})")
    model.load_state_dict({**ours, **filled}, strict=True)
    return OfficialLoad(layout, tuple(unused))
