"""Figures off pyplot: each on its own Agg canvas, saved as one PNG and released (no global state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 120
PNG_METADATA = {"Software": None}  # PNG text chunks: none


def figure(size: tuple[float, float], layout: str | None = None) -> Figure:
    """A figure on its own Agg canvas, outside pyplot."""
    fig = Figure(figsize=size, dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write the figure as PNG, creating parent folders, and release its artists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No Software entry (it names matplotlib's version): the same data give the same bytes (`darts-bench report`).
    fig.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    fig.clear()  # not registered with pyplot, so clearing is all the closing there is
    return path


def require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise a ValueError naming the missing columns and the ones available."""
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}; available: {', '.join(map(str, frame.columns))}")
