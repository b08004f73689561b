"""The NAS-Bench-201 genotype family "nb201": the cell kind "cell", edges (op, to, from) in the
benchmark's order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2, output node 3. Text form: the benchmark's
architecture string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, read and written exactly as the benchmark
does (so it is the key of `nats_bench`'s `query_index_by_arch`). JSON form: {"family": "nb201", "arch": text}.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..genotype import Edge, Genotype, GenotypeError
from .base import GenotypeFamily

# The benchmark's op set, in its column order (cell_operations.py NAS_BENCH_201).
PRIMITIVES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
KIND = "cell"
OUTPUT = 3  # the cell returns node 3 (no concat)
# (from, to) in the alpha rows' order: the official edge2index over sorted "i<-j" keys, = string order.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


class NB201Family(GenotypeFamily):
    name = "nb201"

    def validate(self, genotype: Genotype) -> None:
        if genotype.kinds != (KIND,):
            raise GenotypeError(f"an nb201 genotype has the one cell 'cell', got {', '.join(genotype.kinds) or 'none'}")
        if genotype.style != "edges":
            raise GenotypeError("an nb201 genotype lists (op, to, from) edges (style 'edges')")
        edges, concat = genotype.cell(KIND)
        if tuple(concat) != (OUTPUT,):
            raise GenotypeError(f"an nb201 cell outputs node {OUTPUT} alone, got concat {list(concat)}")
        seen: list[tuple[int, int]] = []
        for op, dst, src in edges:
            if not 1 <= dst <= OUTPUT:
                raise GenotypeError(f"edge ({op}, {dst}, {src}) goes to node {dst}; an nb201 cell has nodes 0 (input) "
                                    f"to {OUTPUT}")
            if not 0 <= src < dst:
                raise GenotypeError(f"edge ({op}, {dst}, {src}) comes from node {src}; node {dst} takes nodes "
                                    f"0..{dst - 1}")
            if op not in PRIMITIVES:
                raise GenotypeError(f"edge {dst}<-{src}: unknown op {op!r}; valid ops: {', '.join(PRIMITIVES)}")
            if (src, dst) in seen:
                raise GenotypeError(f"duplicate edge {dst}<-{src}: an nb201 cell has one op per edge")
            seen.append((src, dst))
        missing = [f"{dst}<-{src}" for src, dst in EDGES if (src, dst) not in seen]
        if missing:
            raise GenotypeError(f"missing edge {', '.join(missing)}: an nb201 cell has one op on each of the 6 edges")
        if tuple(seen) != EDGES:
            raise GenotypeError("nb201 edges must be in the order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2")

    def to_dict(self, genotype: Genotype) -> dict[str, Any]:
        return {"family": self.name, "arch": self.to_text(genotype)}

    def from_dict(self, data: Mapping[str, Any]) -> Genotype:
        unknown = set(data) - {"family", "arch"}
        if unknown:
            raise GenotypeError(f"nb201 genotype has unknown keys {', '.join(sorted(unknown))}; it holds 'arch'")
        arch = data.get("arch")
        if not isinstance(arch, str):
            raise GenotypeError(f"nb201 genotype needs 'arch', an architecture string, got {arch!r}")
        return self.from_text(arch)

    def reads(self, text: str) -> bool:
        return text.startswith("|")

    def to_text(self, genotype: Genotype) -> str:
        edges, _ = genotype.cell(KIND)
        nodes = ["|" + "|".join(f"{op}~{src}" for op, d, src in edges if d == dst) + "|"
                 for dst in range(1, OUTPUT + 1)]
        return "+".join(nodes)

    def from_text(self, text: str) -> Genotype:
        text = text.strip()
        nodes = text.split("+")
        if len(nodes) != OUTPUT:
            raise GenotypeError(f"an nb201 string has {OUTPUT} nodes joined by '+', got {len(nodes)}: {text[:80]!r}")
        edges: list[Edge] = []
        for dst, node in enumerate(nodes, start=1):
            if len(node) < 2 or not (node.startswith("|") and node.endswith("|")):
                raise GenotypeError(f"node {dst} of an nb201 string must read |op~j|...|, got {node[:60]!r}")
            for token in node[1:-1].split("|"):
                op, sep, src = token.partition("~")
                if not sep or not src.isdigit() or (len(src) > 1 and src[0] == "0"):
                    raise GenotypeError(f"node {dst}: {token[:60]!r} is not op~j (j the input node)")
                edges.append((op, dst, int(src)))
        return Genotype(((KIND, tuple(edges), (OUTPUT,)),), "edges", self.name)


FAMILY = NB201Family()
