"""The studies by name. A study is one module with NAME, TITLE, build(preset, seeds=None, **kw) ->
Experiment, table(trials) -> DataFrame and figures(out, trials, epochs) -> [paths]; a new study is
one module plus its line here. `benchmarks.driver` runs any of them."""

from __future__ import annotations

from types import ModuleType

from . import ablation, collapse, comparison, stability, variants

EXPERIMENTS: dict[str, ModuleType] = {
    "stability": stability,
    "ablation": ablation,
    "comparison": comparison,
    "collapse": collapse,
    "variants": variants,
}


def get_experiment(name: str) -> ModuleType:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}") from None


__all__ = ["EXPERIMENTS", "get_experiment"]
