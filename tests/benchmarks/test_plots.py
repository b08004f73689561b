"""benchmarks.plots: every figure is written as a real PNG, and the cell drawing stays readable."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmarks import plots
from benchmarks.plots.curves import MAX_LINES
from fairdarts_core.genotype import Genotype
from fairdarts_core.published import PUBLISHED_GENOTYPES
from fairdarts_core.spaces.darts import EDGES, PRIMITIVES

CELL_GENOTYPES = ("FairDARTS_a", "DARTS_V2", "DCO_EDGE_BS_64")


def assert_png(path, min_width=300, min_height=200):
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height, image.size
        assert image.convert("L").getextrema()[0] < 128, "the image is blank"


def softmax_weights(rng, shape):
    logits = rng.normal(size=shape)
    return np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)


# ----- cells ---------------------------------------------------------------------------------
def test_cell_layout_marks_ignored_node():
    fair = plots.cell_layout(PUBLISHED_GENOTYPES["FairDARTS_a"], "normal")
    darts = plots.cell_layout(PUBLISHED_GENOTYPES["DARTS_V2"], "normal")
    assert fair[3]["state"] == "ignored"  # FairDARTS_a's normal cell gives node 3 no input
    assert darts[3]["state"] == "computed"
    assert [fair[n]["state"] for n in (0, 1, 2, 4, 5, 6)] == ["input", "input", "computed", "computed",
                                                               "computed", "output"]
    assert all(info["state"] != "ignored" for info in plots.cell_layout(PUBLISHED_GENOTYPES["FairDARTS_a"],
                                                                        "reduce").values())


def test_cell_layout_runs_left_to_right():
    layout = plots.cell_layout(PUBLISHED_GENOTYPES["DARTS_V2"], "reduce")
    xs = [layout[n]["xy"][0] for n in sorted(layout)]
    assert xs[0] == xs[1] and all(a < b for a, b in zip(xs[1:], xs[2:]))
    assert layout[0]["xy"][1] > layout[1]["xy"][1]  # c_{k-2} above c_{k-1}


def test_two_ops_on_one_edge_get_apart():
    arrows = plots.cell_arrows(PUBLISHED_GENOTYPES["DCO_EDGE_BS_64"], "normal")
    on_edge = [a for a in arrows if (a["src"], a["dst"]) == (0, 2)]
    assert sorted(a["op"] for a in on_edge) == ["dil_conv_3x3", "sep_conv_3x3"]
    assert on_edge[0]["rad"] != on_edge[1]["rad"]
    assert not boxes_overlap(on_edge[0], on_edge[1])


def boxes_overlap(a, b):
    gap = np.abs(np.subtract(a["label_xy"], b["label_xy"]))
    return bool(np.all(gap < (np.add(a["label_size"], b["label_size"])) / 2))


@pytest.mark.parametrize("name", sorted(PUBLISHED_GENOTYPES))
def test_cell_labels_do_not_overlap(name):
    for cell in ("normal", "reduce"):
        arrows = plots.cell_arrows(PUBLISHED_GENOTYPES[name], cell)
        edges = PUBLISHED_GENOTYPES[name].cell(cell)[0]
        assert sorted(a["op"] for a in arrows if a["op"]) == sorted(op for op, _, _ in edges)
        labelled = [a for a in arrows if a["op"]]
        clashes = [(a["op"], b["op"]) for a, b in itertools.combinations(labelled, 2) if boxes_overlap(a, b)]
        assert not clashes, f"{name} {cell}: overlapping labels {clashes}"


def test_label_box_estimate_covers_rendered_text():
    fig = plots.figure((4, 4))
    text = fig.text(0.5, 0.5, "sep_conv_3x3", fontsize=plots.LABEL_FONTSIZE)
    extent = text.get_window_extent(fig.canvas.get_renderer())
    to_units = plots.DPI * plots.INCH_PER_UNIT  # pixels per data unit on the cell axes
    assert extent.width / to_units <= len("sep_conv_3x3") * plots.CHAR_WIDTH
    assert extent.height / to_units <= plots.LABEL_HEIGHT


def test_edges_out_of_an_ignored_node_are_greyed():
    # node 3 has no input, so it is ignored; node 4 still computes from c_{k-1}
    genotype = Genotype.darts(normal=(("sep_conv_3x3", 2, 0), ("skip_connect", 4, 3), ("sep_conv_5x5", 4, 1)),
                        normal_concat=(2, 3, 4), reduce=(("max_pool_3x3", 2, 0),), reduce_concat=(2,))
    assert plots.cell_layout(genotype, "normal")[3]["state"] == "ignored"
    arrows = {(a["op"], a["src"], a["dst"]): a for a in plots.cell_arrows(genotype, "normal")}
    assert arrows[("skip_connect", 3, 4)]["colour"] == plots.IGNORED_COLOUR
    assert arrows[("sep_conv_5x5", 1, 4)]["colour"] == plots.FAMILY_COLOURS["sep"]
    assert sorted(src for op, src, _ in arrows if op is None) == [2, 4]  # no output edge from node 3


@pytest.mark.parametrize("name", CELL_GENOTYPES)
def test_plot_cells_writes_png(tmp_path, name):
    path = plots.plot_cells(PUBLISHED_GENOTYPES[name], tmp_path / "nested" / f"{name}.png", title=name)
    assert path == tmp_path / "nested" / f"{name}.png"
    assert_png(path, min_width=1000)
    with Image.open(path) as image:
        assert image.width > image.height  # two cells side by side


def test_op_family():
    assert [plots.op_family(op) for op in ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_7x7",
                                           "dil_conv_5x5", "none", "conv_7x1_1x7")] == \
        ["pool", "pool", "skip", "sep", "dil", "none", "other"]


# ----- architecture weights ------------------------------------------------------------------
def test_plot_weight_trajectories(tmp_path):
    history = softmax_weights(np.random.default_rng(0), (6, len(EDGES), len(PRIMITIVES)))
    path = plots.plot_weight_trajectories(history, PRIMITIVES, tmp_path / "traj.png", cell="reduce")
    assert_png(path, min_width=1000, min_height=400)
    assert plots.edge_names()[:3] == ["0->2", "1->2", "0->3"]


def test_plot_weight_trajectories_rejects_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        plots.plot_weight_trajectories(np.zeros((3, 14, 8)), PRIMITIVES, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("activation", ["sigmoid", "softmax"])
def test_plot_weight_heatmaps(tmp_path, activation):
    rng = np.random.default_rng(1)
    weights = {cell: softmax_weights(rng, (len(EDGES), len(PRIMITIVES))) for cell in ("normal", "reduce")}
    assert_png(plots.plot_weight_heatmaps(weights, PRIMITIVES, tmp_path / "heat.png", activation), 600, 400)


def test_near_binary_fraction():
    weights = {"normal": [[0.05, 0.5], [0.95, 0.9]], "reduce": [[0.1, 0.2]]}
    assert plots.near_binary_fraction(weights) == pytest.approx(4 / 6)


@pytest.mark.parametrize("activation", ["sigmoid", "softmax"])
def test_plot_weight_histogram(tmp_path, activation):
    rng = np.random.default_rng(2)
    weights = {cell: rng.uniform(size=(len(EDGES), len(PRIMITIVES))) for cell in ("normal", "reduce")}
    assert_png(plots.plot_weight_histogram(weights, tmp_path / "hist.png", activation))


# ----- training curves and tables ------------------------------------------------------------
def test_skip_bands_mean_and_std():
    frame = pd.DataFrame({
        "label": ["a", "a", "a", "a", "b"],
        "epoch": [0, 0, 1, 1, 0],
        "skip_normal": [1, 3, 2, 2, 5],
        "skip_reduce": [0, 0, 1, 4, 7],
    })
    bands = plots.skip_bands(frame).set_index(["label", "epoch"])
    assert bands.loc[("a", 0), "skip_normal_mean"] == 2.0
    assert bands.loc[("a", 0), "skip_normal_std"] == pytest.approx(np.sqrt(2))  # sample std of 1, 3
    assert bands.loc[("a", 0), "skip_reduce_std"] == 0.0
    assert bands.loc[("a", 1), "skip_reduce_mean"] == 2.5
    assert bands.loc[("a", 1), "skip_reduce_std"] == pytest.approx(np.std([1, 4], ddof=1))
    assert bands.loc[("b", 0), "skip_normal_mean"] == 5.0
    assert bands.loc[("b", 0), "skip_normal_std"] == 0.0  # one seed: no spread
    assert len(bands) == 3


def test_skip_bands_without_label():
    frame = pd.DataFrame({"epoch": [0, 1, 2], "skip_normal": [0, 1, 2], "skip_reduce": [0, 0, 1]})
    bands = plots.skip_bands(frame)
    assert list(bands["label"]) == ["", "", ""]
    assert list(bands["skip_normal_mean"]) == [0, 1, 2]


@pytest.mark.parametrize("with_label", [True, False])
def test_plot_skip_counts(tmp_path, with_label):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"epoch": np.tile(np.arange(5), 4), "skip_normal": rng.integers(0, 8, 20),
                          "skip_reduce": rng.integers(0, 8, 20)})
    if with_label:
        frame["label"] = np.repeat(["darts", "fair_darts"], 10)
    assert_png(plots.plot_skip_counts(frame, tmp_path / "skip.png"))


@pytest.mark.parametrize("with_std", [True, False])
def test_plot_accuracy_vs_flops(tmp_path, with_std):
    frame = pd.DataFrame({"model": ["DARTS_V2", "FairDARTS_a"], "flops_m": [530.0, 370.0],
                          "accuracy": [97.2, 97.4]})
    if with_std:
        frame["accuracy_std"] = [0.1, 0.05]
    assert_png(plots.plot_accuracy_vs_flops(frame, tmp_path / "acc.png"))


@pytest.mark.parametrize("with_std", [True, False])
def test_plot_accuracy_vs_flops_says_what_the_bars_are(tmp_path, monkeypatch, with_std):
    from benchmarks.plots import curves
    titles = []
    real_save = curves.save
    monkeypatch.setattr(curves, "save", lambda fig, path: (titles.append(fig.axes[0].get_title()), real_save(fig, path))[1])
    frame = pd.DataFrame({"model": ["a", "b"], "flops_m": [1.0, 2.0], "accuracy": [60.0, 61.0]})
    if with_std:
        frame["accuracy_std"] = [0.5, 0.7]
    plots.plot_accuracy_vs_flops(frame, tmp_path / "acc.png")
    assert ("1 sd" in titles[0]) == with_std


def test_plot_accuracy_vs_flops_names_missing_column(tmp_path):
    frame = pd.DataFrame({"model": ["a"], "flops_m": [1.0]})
    with pytest.raises(ValueError, match="accuracy"):
        plots.plot_accuracy_vs_flops(frame, tmp_path / "acc.png")


@pytest.mark.parametrize("yerr", ["std", None])
def test_plot_bar_with_error(tmp_path, yerr):
    frame = pd.DataFrame({"ablation": ["full", "no zero-one", "softmax"], "accuracy": [97.4, 97.0, 96.8],
                          "std": [0.1, 0.2, 0.15]})
    path = plots.plot_bar_with_error(frame, tmp_path / "bar.png", "ablation", "accuracy", yerr=yerr,
                                     title="ablation")
    assert_png(path)


def test_plot_bar_with_error_accepts_single_seed_nan_std(tmp_path):
    # a group of one seed has std NaN after groupby().std(): the bar is drawn without an error bar
    frame = pd.DataFrame({"label": ["one seed", "three seeds"], "acc": [96.0, 97.0], "acc_std": [np.nan, 0.2]})
    assert_png(plots.plot_bar_with_error(frame, tmp_path / "bar.png", "label", "acc", yerr="acc_std"))


def test_pngs_carry_no_version_and_repeat_byte_for_byte(tmp_path):
    from PIL import Image

    frame = pd.DataFrame({"epoch": [0, 1, 2], "skip_normal": [0, 1, 2], "skip_reduce": [0, 0, 1]})
    first = plots.plot_skip_counts(frame, tmp_path / "a.png").read_bytes()
    assert plots.plot_skip_counts(frame, tmp_path / "b.png").read_bytes() == first
    with Image.open(tmp_path / "a.png") as image:
        assert "Software" not in image.info


def labelled_epochs(labels: int, column: str, low: float, high: float) -> pd.DataFrame:
    """`labels` labels x 2 seeds x 5 epochs of a random `column` in [low, high)."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"label": np.repeat([f"v{i}" for i in range(labels)], 10),
                         "seed": np.tile(np.repeat([0, 1], 5), labels), "epoch": np.tile(np.arange(5), 2 * labels),
                         column: rng.uniform(low, high, 10 * labels)})


@pytest.mark.parametrize("labels", [2, 6])
def test_plot_epoch_bands_one_line_per_label_or_one_panel_per_label(tmp_path, labels):
    """Up to 4 labels share a panel per column; more get a panel each; bands clip to the limits, references drawn."""
    frame = labelled_epochs(labels, "param_free_fraction", 0, 1)
    assert_png(plots.plot_epoch_bands(frame, ("param_free_fraction",), tmp_path / "bands.png", "share", limits=(0, 1),
                                      lines={"random cell": 0.6}))


@pytest.mark.parametrize("labels", [2, 6])
def test_plot_seed_curves_one_panel_or_one_panel_per_label(tmp_path, labels):
    """Up to 4 labels share one panel (7 x 4.5 in); more get a panel each (a grid 4 panels wide), references drawn."""
    frame = labelled_epochs(labels, "accuracy", 10, 95)
    path = plots.plot_seed_curves(frame, "accuracy", tmp_path / "curves.png", "accuracy (%)", lines={"optimum": 94.37})
    assert_png(path)
    with Image.open(path) as image:
        assert (image.height / image.width < 0.5) == (labels > MAX_LINES)


def test_band_note_says_what_the_band_is():
    assert plots.band_note((0, 8)) == "line: mean over seeds; band: mean +- 1 sd over seeds, clipped to [0, 8]"
    assert plots.band_note((None, None)) == "line: mean over seeds; band: mean +- 1 sd over seeds"


def test_plot_bar_with_error_marks_failed_rows_and_single_values(tmp_path):
    frame = pd.DataFrame({"row": ["two", "one", "failed"], "mean": [90.0, 88.0, np.nan], "std": [1.0, np.nan, np.nan],
                          "n": [2, 1, 0], "failed": [0, 1, 2]})
    assert_png(plots.plot_bar_with_error(frame, tmp_path / "bar.png", "row", "mean", yerr="std", n="n",
                                         failed="failed", ylabel="accuracy (%)", title="accuracy",
                                         limits=(0, 100)))


def test_plot_bar_with_error_keeps_long_labels_and_titles_apart(tmp_path, monkeypatch):
    """Four rows with long labels (the noise study's): the tick labels do not run into each other (side by side,
    or slanted far enough apart), and the title stays inside the figure."""
    import benchmarks.plots.curves as curves

    seen = {}

    def keep(fig, path):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        labels = ax.get_xticklabels()
        seen["ticks"] = [t.get_window_extent(renderer) for t in labels]
        seen["rotation"] = labels[0].get_rotation()
        seen["height"] = labels[0].get_fontsize() * fig.dpi / 72  # one line of label text, in pixels
        seen["spacing"] = float(np.diff(ax.transData.transform([(0, 0), (1, 0)])[:, 0])[0])  # between bars
        seen["title"], seen["figure"] = ax.title.get_window_extent(renderer), fig.bbox
        return path

    monkeypatch.setattr(curves, "save", keep)
    rows = [f"{cell}, {k}k images, 10 epochs" for k in (5, 10) for cell in ("DARTS_V2", "FairDARTS_a")]
    frame = pd.DataFrame({"row": rows, "mean": [58.0, 57.0, 64.8, 64.3], "std": [0.9, 1.4, 0.4, 0.7]})
    curves.plot_bar_with_error(frame, tmp_path / "bar.png", "row", "mean", yerr="std", limits=(0, 100),
                               title="One genotype over training seeds (mean +- sd)")
    ticks = seen["ticks"]
    assert len(ticks) == 4
    if seen["rotation"] == 0:
        assert not any(a.overlaps(b) for a, b in itertools.combinations(ticks, 2))
    else:  # parallel slanted lines: their distance across the slant exceeds a line of text
        assert seen["spacing"] * np.sin(np.radians(seen["rotation"])) > seen["height"]
    title, figure = seen["title"], seen["figure"]
    assert figure.x0 <= title.x0 and title.x1 <= figure.x1
