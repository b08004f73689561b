"""The discrete architecture: one frozen type for DARTS-style and FairDARTS-style cells.

Every edge is `(op, to_node, from_node)`. DARTS-style genotypes (two `(op, from_node)` pairs per
node) are converted on load and remember their style, so `to_string()` gives back the official
repr. Parsing never evaluates text: `from_string` walks a Python AST of literals only.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .space import ALL_OPS, NUM_INPUTS

Edge = tuple[str, int, int]  # (op, to_node, from_node)

MAX_NODE = 15  # largest node index accepted; published cells use at most 6 (NASNet, AmoebaNet)
MAX_TEXT = 100_000  # longest genotype string accepted by from_string
STYLES = ("edges", "pairs")


class GenotypeError(ValueError):
    """A genotype that is malformed or describes an impossible cell."""


@dataclass(frozen=True)
class Genotype:
    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]
    # "pairs": came from the DARTS (op, from_node) form, two inputs per node, where a node may
    # take the same op from the same input twice (NASNet does); "edges": (op, to, from) form.
    style: str = "edges"

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise GenotypeError(f"unknown genotype style {self.style!r}; valid: {', '.join(STYLES)}")
        for name in ("normal", "reduce"):
            edges = tuple(_edge(e, name) for e in getattr(self, name))
            concat = tuple(_int(c, f"{name}_concat") for c in getattr(self, f"{name}_concat"))
            object.__setattr__(self, name, edges)
            object.__setattr__(self, f"{name}_concat", concat)
            _validate_cell(name, edges, concat, allow_duplicates=self.style == "pairs")

    # ----- constructors -------------------------------------------------------------------
    @classmethod
    def from_pairs(cls, normal: Iterable, normal_concat: Iterable[int], reduce: Iterable,
                   reduce_concat: Iterable[int]) -> "Genotype":
        """Build from the DARTS form: a list of (op, from_node), two per node in node order."""
        return cls(_pairs_to_edges(list(normal), "normal"), tuple(normal_concat),
                   _pairs_to_edges(list(reduce), "reduce"), tuple(reduce_concat), style="pairs")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Genotype":
        """Build from a mapping with normal, normal_concat, reduce, reduce_concat (either tuple form)."""
        if not isinstance(data, Mapping):
            raise GenotypeError(f"a genotype must be a JSON object, got {type(data).__name__}")
        keys = {"normal", "normal_concat", "reduce", "reduce_concat"}
        missing = keys - set(data)
        unknown = set(data) - keys - {"style"}
        if missing:
            raise GenotypeError(f"genotype is missing {', '.join(sorted(missing))}")
        if unknown:
            raise GenotypeError(f"genotype has unknown keys {', '.join(sorted(unknown))}")
        cells = {}
        styles = set()
        for name in ("normal", "reduce"):
            raw = data[name]
            if not isinstance(raw, (list, tuple)):
                raise GenotypeError(f"{name} must be a list of edges, got {type(raw).__name__}")
            lengths = {len(e) if isinstance(e, (list, tuple)) else -1 for e in raw}
            if lengths == {2}:
                cells[name] = _pairs_to_edges(raw, name)
                styles.add("pairs")
            elif lengths <= {3}:
                cells[name] = tuple(raw)
                styles.add("edges")
            else:
                raise GenotypeError(f"{name} edges must all be (op, from) pairs or (op, to, from) triples")
        style = data.get("style") or ("pairs" if styles == {"pairs"} else "edges")
        concat = {}
        for name in ("normal_concat", "reduce_concat"):
            raw = data[name]
            if not isinstance(raw, (list, tuple, range)):
                raise GenotypeError(f"{name} must be a list of node indices, got {type(raw).__name__}")
            concat[name] = tuple(raw)
        return cls(cells["normal"], concat["normal_concat"], cells["reduce"], concat["reduce_concat"],
                   style=style)

    @classmethod
    def from_json(cls, text_or_dict: str | Mapping[str, Any]) -> "Genotype":
        if isinstance(text_or_dict, str):
            try:
                text_or_dict = json.loads(text_or_dict)
            except json.JSONDecodeError as err:
                raise GenotypeError(f"genotype is not valid JSON: {err}") from None
        return cls.from_dict(text_or_dict)

    @classmethod
    def from_string(cls, text: str) -> "Genotype":
        """Parse the official repos' `Genotype(normal=[...], normal_concat=..., ...)` repr, without eval."""
        return cls.from_dict(_parse_repr(text))

    # ----- views --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "normal": [list(e) for e in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [list(e) for e in self.reduce],
            "reduce_concat": list(self.reduce_concat),
            "style": self.style,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_string(self) -> str:
        """The official `Genotype(...)` repr, in this genotype's tuple form."""
        def cell(edges: tuple[Edge, ...]) -> str:
            if self.style == "pairs":
                return "[" + ", ".join(f"({op!r}, {src})" for op, _, src in edges) + "]"
            return "[" + ", ".join(f"({op!r}, {dst}, {src})" for op, dst, src in edges) + "]"
        return (f"Genotype(normal={cell(self.normal)}, normal_concat={list(self.normal_concat)}, "
                f"reduce={cell(self.reduce)}, reduce_concat={list(self.reduce_concat)})")

    def cell(self, name: str) -> tuple[tuple[Edge, ...], tuple[int, ...]]:
        """(edges, concat) of the 'normal' or 'reduce' cell."""
        if name not in ("normal", "reduce"):
            raise GenotypeError(f"unknown cell {name!r}; valid: normal, reduce")
        return getattr(self, name), getattr(self, f"{name}_concat")

    def skip_count(self, name: str = "normal") -> int:
        return sum(op == "skip_connect" for op, _, _ in self.cell(name)[0])


def computed_nodes(edges: Iterable[Edge], concat: Iterable[int]) -> tuple[int, ...]:
    """Intermediate nodes that get at least one input from a computed node, in order.

    A node with no input is ignored, and an edge from an ignored node is skipped, so a node fed
    only by ignored nodes is ignored too.
    """
    edges = tuple(edges)
    last = max([dst for _, dst, _ in edges] + list(concat) + [NUM_INPUTS - 1])
    alive = {0, 1}
    for node in range(NUM_INPUTS, last + 1):
        if any(dst == node and src in alive for _, dst, src in edges):
            alive.add(node)
    return tuple(sorted(alive - {0, 1}))


def output_nodes(edges: Iterable[Edge], concat: Iterable[int]) -> tuple[int, ...]:
    """The nodes a cell concatenates: its concat list restricted to computed nodes."""
    alive = set(computed_nodes(edges, concat))
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


def _pairs_to_edges(pairs: list, cell: str) -> tuple[Edge, ...]:
    if len(pairs) % 2:
        raise GenotypeError(f"{cell}: the DARTS (op, from_node) form needs two pairs per node, got {len(pairs)}")
    edges = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise GenotypeError(f"{cell}: expected an (op, from_node) pair, got {pair!r}")
        edges.append((pair[0], NUM_INPUTS + i // 2, pair[1]))
    return tuple(edges)


def _validate_cell(name: str, edges: tuple[Edge, ...], concat: tuple[int, ...], allow_duplicates: bool) -> None:
    if not concat:
        raise GenotypeError(f"{name}_concat is empty")
    for node in concat:
        if not NUM_INPUTS <= node <= MAX_NODE:
            raise GenotypeError(f"{name}_concat: node {node} out of range {NUM_INPUTS}..{MAX_NODE}")
    if len(set(concat)) != len(concat):
        raise GenotypeError(f"{name}_concat lists a node twice: {list(concat)}")
    seen = set()
    for op, dst, src in edges:
        if op not in ALL_OPS:
            raise GenotypeError(f"{name}: unknown op {op!r}; valid ops: {', '.join(ALL_OPS)}")
        if not NUM_INPUTS <= dst <= MAX_NODE:
            raise GenotypeError(f"{name}: edge ({op}, {dst}, {src}) goes to node {dst}, out of range "
                                f"{NUM_INPUTS}..{MAX_NODE}")
        if src < 0:
            raise GenotypeError(f"{name}: edge ({op}, {dst}, {src}) comes from node {src}, out of range")
        if src >= dst:
            raise GenotypeError(f"{name}: edge ({op}, {dst}, {src}) comes from the same or a later node")
        if (op, dst, src) in seen and not allow_duplicates:
            raise GenotypeError(f"{name}: duplicate edge ({op}, {dst}, {src})")
        seen.add((op, dst, src))


_LITERALS = (ast.Constant, ast.List, ast.Tuple)


def _literal(node: ast.AST) -> Any:
    """Lists, tuples, str and int constants, and range(a, b): nothing else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
            and not node.keywords and 1 <= len(node.args) <= 2:
        bounds = [_literal(a) for a in node.args]
        if all(type(b) is int for b in bounds) and all(0 <= b <= MAX_NODE + 1 for b in bounds):
            return list(range(*bounds))
    raise GenotypeError(f"genotype string may only hold lists, tuples, strings, integers and range(a, b); "
                        f"found {ast.dump(node)[:60]}")


def _parse_repr(text: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise GenotypeError("genotype string must be text")
    if len(text) > MAX_TEXT:
        raise GenotypeError(f"genotype string too long ({len(text)} characters, at most {MAX_TEXT})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise GenotypeError(f"not a Genotype(...) string: {err.__class__.__name__}") from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Genotype"):
        raise GenotypeError("not a Genotype(...) string: it must be a single call to Genotype")
    fields = ["normal", "normal_concat", "reduce", "reduce_concat"]
    if len(call.args) > len(fields):
        raise GenotypeError("Genotype(...) takes at most 4 arguments")
    data = {fields[i]: _literal(arg) for i, arg in enumerate(call.args)}
    for kw in call.keywords:
        if kw.arg is None or kw.arg not in fields:
            raise GenotypeError(f"Genotype(...) has an unknown argument {kw.arg!r}")
        if kw.arg in data:
            raise GenotypeError(f"Genotype(...) gives {kw.arg} twice")
        data[kw.arg] = _literal(kw.value)
    return data


def load_genotype(spec: str | Path, published: Mapping[str, Genotype] | None = None) -> Genotype:
    """A published genotype by name, or a file holding JSON or a `Genotype(...)` string."""
    if published is not None and str(spec) in published:
        return published[str(spec)]
    path = Path(spec)
    if not path.is_file():
        names = ", ".join(published) if published else ""
        raise GenotypeError(f"{spec!s} is neither a published genotype ({names}) nor a file")
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if text.startswith("{"):
        data = Genotype.from_json(text)
        return data
    return Genotype.from_string(text)
