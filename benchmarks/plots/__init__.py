"""Figures drawn from stored results, by subject: cells (`cells`), architecture weights (`weights`),
curves and bars from the tables (`curves`), on canvases outside pyplot (`canvas`). Every `plot_*`
function is a pure function of its inputs that saves one PNG to `path` and returns that path."""

from .canvas import DPI, figure, save
from .cells import (
                    CHAR_WIDTH,
                    FAMILY_COLOURS,
                    IGNORED_COLOUR,
                    INCH_PER_UNIT,
                    LABEL_FONTSIZE,
                    LABEL_HEIGHT,
                    cell_arrows,
                    cell_layout,
                    node_label,
                    op_family,
                    plot_cells,
)
from .curves import (
                    band_note,
                    epoch_bands,
                    plot_accuracy_vs_flops,
                    plot_bar_with_error,
                    plot_epoch_bands,
                    plot_op_counts,
                    plot_seed_curves,
                    plot_skip_counts,
                    skip_bands,
)
from .weights import (
                    edge_names,
                    near_binary_fraction,
                    plot_weight_heatmaps,
                    plot_weight_histogram,
                    plot_weight_trajectories,
)

__all__ = ["band_note", "CHAR_WIDTH", "DPI", "FAMILY_COLOURS", "IGNORED_COLOUR", "INCH_PER_UNIT", "LABEL_FONTSIZE", "LABEL_HEIGHT", "cell_arrows",
           "cell_layout", "edge_names", "epoch_bands", "figure", "near_binary_fraction", "node_label", "op_family",
           "plot_accuracy_vs_flops", "plot_bar_with_error", "plot_cells", "plot_epoch_bands", "plot_op_counts",
           "plot_seed_curves", "plot_skip_counts",
           "plot_weight_heatmaps", "plot_weight_histogram", "plot_weight_trajectories", "save", "skip_bands"]
