"""The studies by name. A study is one module with NAME, TITLE, build(preset, seeds=None, **kw) ->
Experiment, table(trials, benchmark=None) -> DataFrame and figures(out, trials, epochs, benchmark=None)
-> [paths] (benchmark: the folder's NB201 table summary, benchmark.json, or None); a new study is one
module plus its line here. `benchmarks.driver` runs any of them."""

from __future__ import annotations

from types import ModuleType

from . import ablation, ablation_nb201, collapse, comparison, nb201, stability, variants

EXPERIMENTS: dict[str, ModuleType] = {
    "stability": stability,
    "ablation": ablation,
    "comparison": comparison,
    "collapse": collapse,
    "variants": variants,
    "nb201": nb201,
    "ablation_nb201": ablation_nb201,
}


def get_experiment(name: str) -> ModuleType:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}") from None


__all__ = ["EXPERIMENTS", "get_experiment"]
