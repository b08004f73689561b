"""The DARTS cell, all in one place: the space (`space`), its supernet (`supernet`), its parse methods
(`parse`), its evaluation networks (`evalnet`) and their profiles (`profile`). The genotypes, op names
and text form are the DARTS family (`fairdarts_core.families.darts`)."""

from __future__ import annotations

from ...families.darts import ALL_OPS, DARTS_PRIMITIVES, EDGES, PRIMITIVES
from .space import DARTS, DartsCellSpace
from .supernet import SearchCell, SearchNetwork, search_op

__all__ = ["ALL_OPS", "DARTS", "DARTS_PRIMITIVES", "EDGES", "PRIMITIVES", "DartsCellSpace", "SearchCell",
           "SearchNetwork", "search_op"]
