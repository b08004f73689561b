"""The DARTS cell search space as constants: op names and the 14 edges of a 4-node cell."""

from __future__ import annotations

# The FairDARTS / seed op set, in the order of the official FairDARTS code.
PRIMITIVES: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

# The original DARTS op set: 'none' first, then the seven above.
DARTS_PRIMITIVES: tuple[str, ...] = ("none",) + PRIMITIVES

# Ops that only appear in published genotypes of other methods (NASNet, AmoebaNet, ENAS).
EXTRA_OPS: tuple[str, ...] = ("sep_conv_7x7", "conv_7x1_1x7")

ALL_OPS: tuple[str, ...] = DARTS_PRIMITIVES + EXTRA_OPS

NUM_INPUTS = 2  # a cell reads the outputs of the two previous cells: nodes 0 and 1
NUM_NODES = 4  # intermediate nodes 2..5 in the search space


def cell_edges(num_nodes: int = NUM_NODES) -> tuple[tuple[int, int], ...]:
    """Edges (src, dst) in node order: node 2 from 0,1; node 3 from 0,1,2; ..."""
    return tuple(
        (src, dst)
        for dst in range(NUM_INPUTS, NUM_INPUTS + num_nodes)
        for src in range(dst)
    )


EDGES: tuple[tuple[int, int], ...] = cell_edges()  # 14 edges for 4 nodes
NUM_EDGES = len(EDGES)
