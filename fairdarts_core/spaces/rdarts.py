"""The R-DARTS reduced spaces over the DARTS cell (Zela et al., "Understanding and Robustifying
Differentiable Architecture Search"), built to expose skip-connection collapse; the op lists as in
the official `src/spaces.py` (RobustDARTS, copied in DARTS-): S1 two ops per edge, its own pair on
each edge of each cell kind; S2 {skip, sep3}; S3 {none, skip, sep3}; S4 {noise, sep3}, where
`noise` outputs standard Gaussian noise of its (strided) input's shape.

S1's weights are laid out over the union of its ops; each edge holds its pair and the other logits
are -inf. Within an edge, a tie between the pair's weights goes to the op earlier in the union
(official: the earlier column of that edge's list; they differ on normal edges 5 and 10)."""

from __future__ import annotations

from .darts import DartsCellSpace

_SKIP, _MAX, _AVG = "skip_connect", "max_pool_3x3", "avg_pool_3x3"
_SEP3, _DIL3, _DIL5 = "sep_conv_3x3", "dil_conv_3x3", "dil_conv_5x5"
S1_EDGE_OPS = {  # edge e of the DARTS order: node 2 <- 0, 1; node 3 <- 0, 1, 2; ...
    "normal": ((_SKIP, _DIL3), (_SKIP, _DIL5), (_SKIP, _DIL5), (_SKIP, _SEP3), (_SKIP, _DIL3), (_MAX, _SKIP),
               (_SKIP, _SEP3), (_SKIP, _SEP3), (_SKIP, _DIL3), (_SKIP, _SEP3), (_MAX, _SKIP), (_SKIP, _DIL3),
               (_DIL3, _DIL5), (_DIL3, _DIL5)),
    "reduce": ((_MAX, _AVG), (_MAX, _DIL3), (_MAX, _AVG), (_MAX, _AVG), (_SKIP, _DIL5), (_MAX, _AVG),
               (_MAX, _SEP3), (_SKIP, _DIL3), (_SKIP, _DIL5), (_MAX, _AVG), (_MAX, _AVG), (_SKIP, _DIL5),
               (_SKIP, _DIL5), (_SKIP, _DIL5)),
}
S1 = DartsCellSpace("s1", "R-DARTS S1: the DARTS cell with its own pair of ops on each edge",
                    (_MAX, _AVG, _SKIP, _SEP3, _DIL3, _DIL5), edge_ops=S1_EDGE_OPS, optional_none=False)
S2 = DartsCellSpace("s2", "R-DARTS S2: the DARTS cell with skip_connect and sep_conv_3x3 on every edge",
                    ("skip_connect", "sep_conv_3x3"), optional_none=False)
S3 = DartsCellSpace("s3", "R-DARTS S3: the DARTS cell with none, skip_connect and sep_conv_3x3 on every edge",
                    ("none", "skip_connect", "sep_conv_3x3"), optional_none=False)
S4 = DartsCellSpace("s4", "R-DARTS S4: the DARTS cell with noise and sep_conv_3x3 on every edge",
                    ("noise", "sep_conv_3x3"), optional_none=False)
