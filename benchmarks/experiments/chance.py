"""What a uniformly random cell of a space scores on the collapse measures, the chance level beside each column
that counts parameter-free edges or skips: each kept edge's op drawn independently and uniformly from the ops a
parse can keep (NB201: its 5 ops, none included, on 6 edges, = every one of its 15,625 cells once; DARTS-style
cells: the space's ops bar none, 2 edges per node, as the DARTS rule parses random weights). Exact (binomial);
for spaces whose edges share one op set (not R-DARTS S1)."""

from __future__ import annotations

import math

DOMINATED = 2 / 3  # a cell is skip-dominated when at least this share of its kept edges is parameter-free


def kept_ops(space_name: str) -> tuple[str, ...]:
    """The ops a parse keeps on an edge of the space."""
    from fairdarts_core.spaces import get_space

    space = get_space(space_name)
    ops = space.op_set()
    return ops if space.name == "nb201" else tuple(op for op in ops if op != "none")


def kept_edges(space_name: str) -> int:
    """Kept edges per cell kind: NB201 all 6, DARTS-style cells 2 per intermediate node."""
    from fairdarts_core.spaces import get_space

    space = get_space(space_name)
    return len(space.edges) if space.name == "nb201" else 2 * space.num_nodes


def cell_kinds(space_name: str) -> int:
    from fairdarts_core.spaces import get_space

    return len(get_space(space_name).cell_kinds)


def param_free_share(space_name: str) -> float:
    """The share of a random cell's kept edges whose op has no parameters (its expectation)."""
    from fairdarts_core.indicators import PARAMETER_FREE_OPS

    ops = kept_ops(space_name)
    return sum(op in PARAMETER_FREE_OPS for op in ops) / len(ops)


def expected_skips(space_name: str) -> float:
    """Skip connections in one cell of a random cell, on average."""
    ops = kept_ops(space_name)
    return kept_edges(space_name) * ops.count("skip_connect") / len(ops)


def chance_dominated(space_name: str) -> float:
    """The share of random cells (all cell kinds together) that are skip-dominated: at least DOMINATED of their
    kept edges parameter-free (NB201: 4 of 6, 54.4%)."""
    p = param_free_share(space_name)
    edges = kept_edges(space_name) * cell_kinds(space_name)
    least = math.ceil(DOMINATED * edges - 1e-9)
    return sum(math.comb(edges, k) * p**k * (1 - p) ** (edges - k) for k in range(least, edges + 1))
