"""The discrete architecture: one frozen type for the cells of every search space.

A genotype maps each cell kind of its family to explicit `(op, to_node, from_node)` edges and the
nodes its output reads. The family names the macro networks that build it and its text forms:
`darts` (normal and reduce cells over two inputs; the DARTS space and the R-DARTS spaces) and
`nb201` (one cell over one input). Each family lives in `fairdarts_core.families` with its
validation and text form; parsing never evaluates text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Edge = tuple[str, int, int]  # (op, to_node, from_node)
CellEdges = tuple[str, tuple[Edge, ...], tuple[int, ...]]  # (kind, edges, output nodes)

MAX_NODE = 15  # largest node index accepted; published cells use at most 6 (NASNet, AmoebaNet)
MAX_TEXT = 100_000  # longest genotype text accepted
STYLES = ("edges", "pairs")


class GenotypeError(ValueError):
    """A genotype that is malformed or describes an impossible cell."""


@dataclass(frozen=True)
class Genotype:
    cells: tuple[CellEdges, ...]  # in the family's kind order
    # "pairs": came from the DARTS (op, from_node) form, two inputs per node, where a node may
    # take the same op from the same input twice (NASNet does); "edges": (op, to, from) form.
    style: str = "edges"
    family: str = "darts"

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise GenotypeError(f"unknown genotype style {self.style!r}; valid: {', '.join(STYLES)}")
        if not isinstance(self.cells, (tuple, list)):
            raise GenotypeError("cells must be a sequence of (kind, edges, concat)")
        cells = []
        for entry in self.cells:
            if not isinstance(entry, (tuple, list)) or len(entry) != 3 or not isinstance(entry[0], str):
                raise GenotypeError(f"a cell must be (kind, edges, concat), got {entry!r}")
            kind, edges, concat = entry
            if not isinstance(edges, (tuple, list)) or not isinstance(concat, (tuple, list, range)):
                raise GenotypeError(f"{kind}: edges and concat must be lists")
            cells.append((kind, tuple(_edge(e, kind) for e in edges),
                          tuple(_int(c, f"{kind}_concat") for c in concat)))
        object.__setattr__(self, "cells", tuple(cells))
        genotype_family(self.family).validate(self)

    # ----- constructors -------------------------------------------------------------------
    @classmethod
    def of(cls, cells: Mapping[str, tuple[Iterable[Edge], Iterable[int]]], style: str = "edges",
           family: str = "darts") -> Genotype:
        """Build from {kind: (edges, concat)}."""
        return cls(tuple((kind, tuple(edges), tuple(concat)) for kind, (edges, concat) in cells.items()),
                   style, family)

    @classmethod
    def darts(cls, normal: Iterable[Edge], normal_concat: Iterable[int], reduce: Iterable[Edge],
              reduce_concat: Iterable[int], style: str = "edges") -> Genotype:
        """A DARTS-family genotype from (op, to, from) edges of its two cells."""
        return cls.of({"normal": (normal, normal_concat), "reduce": (reduce, reduce_concat)}, style)

    @classmethod
    def from_pairs(cls, normal: Iterable, normal_concat: Iterable[int], reduce: Iterable,
                   reduce_concat: Iterable[int]) -> Genotype:
        """Build from the DARTS form: a list of (op, from_node), two per node in node order."""
        return cls.from_dict({"normal": list(normal), "normal_concat": list(normal_concat),
                              "reduce": list(reduce), "reduce_concat": list(reduce_concat)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Genotype:
        """Build from a JSON mapping: the DARTS form (normal, normal_concat, reduce, reduce_concat, in
        either tuple form) or another family's form, named by its "family" key."""
        if not isinstance(data, Mapping):
            raise GenotypeError(f"a genotype must be a JSON object, got {type(data).__name__}")
        family = data.get("family", "darts")
        if not isinstance(family, str):
            raise GenotypeError(f"family must be a name, got {family!r}")
        return genotype_family(family).from_dict(data)

    @classmethod
    def from_json(cls, text_or_dict: str | Mapping[str, Any]) -> Genotype:
        if isinstance(text_or_dict, str):
            try:
                text_or_dict = json.loads(text_or_dict)
            except json.JSONDecodeError as err:
                raise GenotypeError(f"genotype is not valid JSON: {err}") from None
        return cls.from_dict(text_or_dict)

    @classmethod
    def from_string(cls, text: str) -> Genotype:
        """Parse a family's text form: the official `Genotype(normal=[...], ...)` repr (DARTS) or an
        NB201 architecture string `|op~0|+|op~0|op~1|+...`; never with eval."""
        if not isinstance(text, str):
            raise GenotypeError("genotype text must be a string")
        if len(text) > MAX_TEXT:
            raise GenotypeError(f"genotype string too long ({len(text)} characters, at most {MAX_TEXT})")
        return family_of_text(text).from_text(text.strip())

    # ----- views --------------------------------------------------------------------------
    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, _, _ in self.cells)

    def cell(self, kind: str) -> tuple[tuple[Edge, ...], tuple[int, ...]]:
        """(edges, concat) of the cell `kind` ('normal' or 'reduce' in the DARTS family, 'cell' in NB201)."""
        for name, edges, concat in self.cells:
            if name == kind:
                return edges, concat
        raise GenotypeError(f"unknown cell {kind!r}; valid: {', '.join(self.kinds)}")

    @property
    def normal(self) -> tuple[Edge, ...]:
        return self.cell("normal")[0]

    @property
    def normal_concat(self) -> tuple[int, ...]:
        return self.cell("normal")[1]

    @property
    def reduce(self) -> tuple[Edge, ...]:
        return self.cell("reduce")[0]

    @property
    def reduce_concat(self) -> tuple[int, ...]:
        return self.cell("reduce")[1]

    def to_dict(self) -> dict[str, Any]:
        return genotype_family(self.family).to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_string(self) -> str:
        """The family's text form (DARTS: the official `Genotype(...)` repr in this genotype's tuple form)."""
        return genotype_family(self.family).to_text(self)

    def count(self, ops: Iterable[str], kind: str | None = None) -> int:
        """How many edges of the cell `kind` (default: the first) carry one of `ops`."""
        wanted = set(ops)
        return sum(op in wanted for op, _, _ in self.cell(kind or self.kinds[0])[0])

    def skip_count(self, kind: str | None = None) -> int:
        return self.count(("skip_connect",), kind)


def genotype_family(name: str):
    """The family object (validation, JSON and text forms) of `name`."""
    from .families import GENOTYPE_FAMILIES

    try:
        return GENOTYPE_FAMILIES[name]
    except KeyError:
        raise GenotypeError(f"unknown genotype family {name!r}; valid: {', '.join(GENOTYPE_FAMILIES)}") from None


def family_of_text(text: str):
    """The family whose text form `text` is written in."""
    from .families import GENOTYPE_FAMILIES

    for family in GENOTYPE_FAMILIES.values():
        if family.reads(text.strip()):
            return family
    raise GenotypeError("not a genotype string: expected Genotype(...) or an NB201 string |op~0|+|op~0|op~1|+...")


def computed_nodes(edges: Iterable[Edge], concat: Iterable[int], num_inputs: int = 2) -> tuple[int, ...]:
    """Intermediate nodes that get at least one input from a computed node, in order.

    A node with no input is ignored, and an edge from an ignored node is skipped, so a node fed
    only by ignored nodes is ignored too.
    """
    edges = tuple(edges)
    last = max([dst for _, dst, _ in edges] + list(concat) + [num_inputs - 1])
    alive = set(range(num_inputs))
    for node in range(num_inputs, last + 1):
        if any(dst == node and src in alive for _, dst, src in edges):
            alive.add(node)
    return tuple(sorted(alive - set(range(num_inputs))))


def output_nodes(edges: Iterable[Edge], concat: Iterable[int], num_inputs: int = 2) -> tuple[int, ...]:
    """The nodes a cell concatenates: its concat list restricted to computed nodes."""
    alive = set(computed_nodes(edges, concat, num_inputs))
    return tuple(n for n in concat if n in alive)


# ----- helpers -------------------------------------------------------------------------------
def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GenotypeError(f"{where}: node index must be an integer, got {value!r}")
    return value


def _edge(raw: Any, cell: str) -> Edge:
    if not isinstance(raw, (list, tuple)) or len(raw) != 3:
        raise GenotypeError(f"{cell}: an edge must be (op, to_node, from_node), got {raw!r}")
    op, dst, src = raw
    if not isinstance(op, str):
        raise GenotypeError(f"{cell}: op name must be a string, got {op!r}")
    return (op, _int(dst, cell), _int(src, cell))


def check_edges(kind: str, edges: tuple[Edge, ...], ops: Iterable[str], num_inputs: int, last: int,
                duplicates: bool) -> None:
    """Every edge has a known op, goes to an intermediate node num_inputs..last and comes from an
    earlier node; duplicates only where the family allows them."""
    ops = tuple(ops)
    seen = set()
    for op, dst, src in edges:
        if op not in ops:
            raise GenotypeError(f"{kind}: unknown op {op!r}; valid ops: {', '.join(ops)}")
        if not num_inputs <= dst <= last:
            raise GenotypeError(f"{kind}: edge ({op}, {dst}, {src}) goes to node {dst}, but the cell has nodes "
                                f"{num_inputs}..{last}")
        if src < 0:
            raise GenotypeError(f"{kind}: edge ({op}, {dst}, {src}) comes from node {src}, out of range")
        if src >= dst:
            raise GenotypeError(f"{kind}: edge ({op}, {dst}, {src}) comes from the same or a later node")
        if (op, dst, src) in seen and not duplicates:
            raise GenotypeError(f"{kind}: duplicate edge ({op}, {dst}, {src})")
        seen.add((op, dst, src))


def load_genotype(spec: str | Path, published: Mapping[str, Genotype] | None = None) -> Genotype:
    """A published genotype by name, a file holding JSON or a genotype string, or such a string itself."""
    if published is not None and str(spec) in published:
        return published[str(spec)]
    text = str(spec).strip()
    if text.startswith("|") or text.startswith("Genotype(") or text.startswith("{"):
        return Genotype.from_json(text) if text.startswith("{") else Genotype.from_string(text)
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(published) if published else ""
        raise GenotypeError(f"{spec!s} is neither a published genotype ({names}), a genotype string nor a file")
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if text.startswith("{"):
        return Genotype.from_json(text)
    return Genotype.from_string(text)
