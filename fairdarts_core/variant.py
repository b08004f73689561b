"""The interfaces a method implements: `Variant` (the small delta a search makes against DARTS) and
`Sampler` (a baseline that draws genotypes instead of searching).

A variant declares its architecture parameters and their init, turns them into activated weights
(`weights`, used by every order, the parse, the gap and the Hessian), may swap the mixed op, add
an architecture loss, put hooks on op outputs for the search's progress, skip arch steps while it
warms up, plan stages and prune between them, parse, and name the indicators a search records of
its weights. Every default is plain DARTS; the shared loop (`fairdarts_core.search`) calls these
and nothing else. Options are dataclass fields whose comments are their help text; ablations are
field overrides (`with_options`).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from .genotype import Genotype
from .losses import zero_one_loss
from .mixed_op import MixedOpFactory, mixed_op
from .regularizers import REGULARIZERS, Regularizer
from .spaces import parse_methods
from .spaces.darts.parse import DEFAULT_THRESHOLD
from .supernet import ALPHA_PREFIX

ParseMethod = Literal[tuple(parse_methods())]  # every space's parse methods: construction checks the name


@dataclass(frozen=True)
class Progress:
    """Where a search is: the stage, the epoch overall and within the stage."""

    stage: int
    stages: int
    epoch: int  # over the whole search, from 0
    epochs: int  # of the whole search
    stage_epoch: int  # within the stage, from 0
    stage_epochs: int

    @property
    def fraction(self) -> float:
        """Share of the whole search done before this epoch."""
        return self.epoch / self.epochs


@dataclass(frozen=True)
class Stage:
    """One stage of a search: its epochs, its supernet's cells and the ops each edge holds."""

    epochs: int
    cells: int
    # Per cell kind, per edge, the op names the edge holds; None: the space's op set on every edge.
    ops: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] | None = None

    def edge_ops(self) -> dict[str, tuple[tuple[str, ...], ...]] | None:
        return None if self.ops is None else {kind: rows for kind, rows in self.ops}

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "cells": self.cells,
                "ops": None if self.ops is None else {kind: [list(r) for r in rows] for kind, rows in self.ops}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stage:
        ops = data.get("ops")
        return cls(int(data["epochs"]), int(data["cells"]),
                   None if ops is None else tuple((k, tuple(tuple(r) for r in rows)) for k, rows in ops.items()))


class Options:
    """Options as frozen dataclass fields: validated Literal choices, plain-value views, overrides."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line: what the method is (help text, table captions)

    def __post_init__(self) -> None:
        for f in fields(self):
            choices = literal_choices(type(self), f.name)
            value = getattr(self, f.name)
            if choices and value is not None and value not in choices:
                raise ValueError(f"{f.name} must be one of {', '.join(map(str, choices))}, got {value!r}")

    def options(self) -> dict[str, Any]:
        """The settings as plain values (for manifests and tables)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def with_options(self, **overrides: Any):
        """A copy with some fields changed; unknown names are an error that lists the valid ones."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"{self.name} has no option(s) {', '.join(sorted(unknown))}; "
                             f"valid: {', '.join(sorted(known))}")
        return replace(self, **overrides)


def literal_choices(cls: type, name: str) -> tuple[Any, ...]:
    """The allowed values of a field annotated Literal[...] (or Literal[...] | None); () otherwise."""
    hint = typing.get_type_hints(cls).get(name)
    for arg in (hint, *typing.get_args(hint)):
        if typing.get_origin(arg) is Literal:
            return typing.get_args(arg)
    return ()


@dataclass(frozen=True)
class Variant(Options):
    """DARTS itself: softmax weights over the ops of an edge, alpha = 1e-3 * randn, no extra loss,
    one stage, the DARTS parse rule."""

    name: ClassVar[str] = "darts"
    summary: ClassVar[str] = "DARTS"
    activation: ClassVar[str] = "softmax"
    default_parse: ClassVar[str] = "darts"
    # Published search hyperparameters (SearchConfig fields): the paper preset takes all of them; the
    # short presets all but the sizes (epochs, batch), with the arch learning rate scaled.
    paper_search: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # {space: published values for that space}, over the space's own protocol (DrNAS' NB201 search).
    space_paper_search: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({})

    with_none: bool | None = None  # the 'none' op in the DARTS space: on adds it, off removes it, unset keeps the space's op set (other spaces fix theirs)
    parse_method: ParseMethod | None = None  # unset: the variant's usual method, or the space's own where that does not apply
    threshold: float = DEFAULT_THRESHOLD  # sigma of the threshold parse methods
    regularizers: tuple[str, ...] = ()  # regularizers the search adds (fairdarts_core.regularizers), by name
    regularizer_options: tuple[tuple[str, Any], ...] = ()  # their options, (option, value) pairs; unset: their defaults

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        names = (self.regularizers,) if isinstance(self.regularizers, str) else tuple(self.regularizers)
        given = self.regularizer_options
        pairs = tuple(sorted(given.items() if isinstance(given, Mapping) else (tuple(p) for p in given)))
        object.__setattr__(self, "regularizers", names)  # plain tuples whatever a study's JSON gave
        object.__setattr__(self, "regularizer_options", pairs)
        self.regularizer_objects()

    def regularizer_objects(self) -> tuple[Regularizer, ...]:
        """The regularizers with their options; an unknown name or option, a repeated name or one that cannot go
        with this variant is a one-line ValueError."""
        classes = [REGULARIZERS.get(name) for name in self.regularizers]
        if len(set(self.regularizers)) < len(self.regularizers):
            raise ValueError(f"regularizers named twice: {', '.join(self.regularizers)}")
        options = dict(self.regularizer_options)
        known = {f.name for cls in classes for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"regularizer option(s) {', '.join(unknown)} belong to none of the regularizers "
                             f"{', '.join(self.regularizers) or '(none)'}; theirs: {', '.join(sorted(known)) or 'none'}")
        regs = tuple(cls.from_options(options) for cls in classes)
        for reg in regs:
            reg.check(self)
        return regs

    def describe(self) -> str:
        """The variant with the options that differ from its defaults, for captions."""
        default = type(self)()
        changed = [f"{k}={v}" for k, v in self.options().items() if v != getattr(default, k)]
        return self.summary + (f" ({', '.join(changed)})" if changed else "")

    # ----- space ------------------------------------------------------------------------------
    def check_space(self, space) -> None:
        """Raise a ValueError if this variant cannot search `space`."""
        space.check_parse_method(self.resolved_parse(space))
        self.primitives(space)

    def supports(self, space) -> bool:
        """Whether this variant can search `space` (check_space without the error)."""
        try:
            self.check_space(space)
        except ValueError:
            return False
        return True

    def in_space(self, space) -> Variant:
        """This variant as it searches `space` (a search calls it once): itself, or a copy whose unset
        options take the official values for that space (DrNAS: partial channels in the DARTS cell only)."""
        return self

    def primitives(self, space) -> tuple[str, ...]:
        """The op set searched: the space's, with 'none' added or removed by with_none."""
        return space.op_set(self.with_none)

    def resolved_parse(self, space) -> str:
        if self.parse_method is not None:
            return self.parse_method
        return self.default_parse if self.default_parse in space.parse_methods else space.parse_methods[0]

    # ----- architecture parameters and weights -------------------------------------------------
    def arch_shapes(self, space, primitives: Sequence[str]) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every architecture parameter (alphas per cell kind: (edges, ops))."""
        return {ALPHA_PREFIX + kind: (len(space.edges), len(primitives)) for kind in space.cell_kinds}

    def init_arch(self, name: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return 1e-3 * torch.randn(shape, generator=generator)

    def activate(self, alphas: torch.Tensor) -> torch.Tensor:
        """(edges, ops) logits -> (edges, ops) weights."""
        return torch.softmax(alphas, dim=-1)

    def weights(self, arch: Mapping[str, torch.Tensor], space) -> dict[str, torch.Tensor]:
        """{cell kind: (edges, ops)} activated weights from the architecture parameters (functional)."""
        return {kind: self.activate(arch[ALPHA_PREFIX + kind]) for kind in space.cell_kinds}

    def train_weights(self, arch: Mapping[str, torch.Tensor], space, progress: Progress | None) -> dict[str, torch.Tensor]:
        """The weights the search's steps train with (every loss of a step); `weights` by default. A
        sampling method (GDAS, DrNAS) draws them here, its schedules read `progress` (None outside a
        search's epoch, e.g. a timed step); the parse, the records and the Hessian still read `weights`."""
        return self.weights(arch, space)

    def mixed_op(self) -> MixedOpFactory:
        return mixed_op

    def stage_mixed_op(self, stage: int) -> MixedOpFactory:
        """The mixed-op factory of stage `stage`'s supernet: `mixed_op()` in every stage by default (DrNAS:
        partial channels with a K per stage)."""
        return self.mixed_op()

    def arch_loss(self, weights: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """An extra loss on the weights, added to the cross-entropy in both steps; None for none."""
        return None

    def arch_param_loss(self, arch: Mapping[str, torch.Tensor], space) -> torch.Tensor | None:
        """An extra loss on the architecture parameters themselves (unmasked), added like `arch_loss`;
        being free of the supernet's weights it changes only the arch step. None for none."""
        return None

    def indicators(self, weights: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """What the search records of the activated weights each epoch: the zero-one loss (L2 form), how
        far the weights are from 0 or 1 whatever the variant trains with."""
        return {"zero_one_loss": zero_one_loss(torch.cat(list(weights.values())), "l2").item()}

    # ----- the search's progress ---------------------------------------------------------------
    def hooks(self, net: nn.Module, progress: Progress) -> list[Any]:
        """Put this epoch's hooks on the supernet's modules; returns their handles (removed after the
        epoch). Nothing by default."""
        return []

    def arch_step(self, progress: Progress) -> bool:
        """Whether this epoch steps the architecture (False: a weight-only warm-up epoch)."""
        return True

    def plan(self, epochs: int, cells: int, space) -> tuple[Stage, ...]:
        """The stages of a search of `epochs` epochs whose supernet has `cells` cells: one by default."""
        return (Stage(epochs, cells),)

    def between_stages(self, weights: Mapping[str, np.ndarray], done: Stage, nxt: Stage, space,
                       primitives: Sequence[str]) -> Stage:
        """The next stage, given the final weights of the stage `done` (P-DARTS prunes ops here)."""
        return nxt

    def carry(self, old: nn.Module, new: nn.Module, generator: torch.Generator) -> Mapping[str, Any] | None:
        """What the next stage's supernet `new` takes over from the last one's `old`, set before its first
        step: {name in new's state_dict: (name in old's, function old tensor -> new tensor[, the function
        for the optimizers' state of the parameter (SGD momentum, Adam moments), default the same])}. None (the
        default): nothing, each stage starts afresh (P-DARTS); DrNAS widens the kept ops."""
        return None

    # ----- discretization ----------------------------------------------------------------------
    def parse(self, weights: Mapping[str, Any], space, primitives: Sequence[str],
              masks: Mapping[str, np.ndarray] | None = None) -> Genotype:
        return space.parse(weights, self.resolved_parse(space), self.threshold, primitives, masks)


@dataclass(frozen=True)
class Sampler(Options):
    """A baseline that draws genotypes of a space instead of searching."""

    def sample(self, seed: int, space) -> list[Genotype]:
        raise NotImplementedError
