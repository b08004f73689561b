"""The studies by name. A study is one module that implements `Study` (`base.py`): NAME, TITLE, SEEDS,
NEEDS_NB201_TABLE, build(sizes, seeds) -> Experiment, table(trials, benchmark=None) -> DataFrame and
figures(out, trials, epochs, benchmark=None) -> [paths] (benchmark: the folder's NB201 table summary,
benchmark.json, or None); a new study is one module plus its line here. `benchmarks.driver` runs any of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fairdarts_core.registry import Registry

from ..spec import Experiment
from . import ablation, ablation_nb201, collapse, comparison, nb201, noise, stability, variants
from .base import Study

if TYPE_CHECKING:
    from fairdarts_core.sizes import Sizes

EXPERIMENTS: Registry[Study] = Registry("experiment", {
    "stability": stability,
    "ablation": ablation,
    "comparison": comparison,
    "collapse": collapse,
    "variants": variants,
    "nb201": nb201,
    "ablation_nb201": ablation_nb201,
    "noise": noise,
})


def build_study(study: Study, sizes: Sizes, seeds: int | None = None, **options: Any) -> Experiment:
    """The study's spec at a preset's sizes with `seeds` seeds (default: the study's count for the preset)."""
    return study.build(sizes, tuple(range(seeds or study.SEEDS[sizes.name])), **options)


__all__ = ["EXPERIMENTS", "Study", "build_study"]
