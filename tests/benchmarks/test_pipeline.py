"""benchmarks.pipeline: the result of a search run equals the one read back from its files."""

from __future__ import annotations

import math
from dataclasses import replace

from benchmarks.pipeline import read_search_result, run_search
from fairdarts_core.sizes import PRESETS
from variants import make_variant


def test_a_search_result_and_the_one_read_from_its_files_are_equal(tmp_path, search_set):
    variant = make_variant("fair_darts")
    config = replace(PRESETS["smoke"].search_config(variant), epochs=1, batch_size=8, gap_images=16)
    parses = [("sparse 0.5", "threshold_sparse", 0.5), ("nothing", "threshold_sparse", 1.0)]
    ran = run_search(variant, search_set, config, tmp_path, figures=False, parses=parses)
    read = read_search_result(tmp_path, [label for label, _, _ in parses])
    assert set(ran.last) == set(read.last)
    for key, value in ran.last.items():
        same = value == read.last[key] or (isinstance(value, float) and math.isnan(value) and math.isnan(read.last[key]))
        assert same and type(value) is type(read.last[key]), key
    assert ran.final_weights == read.final_weights and ran.wall_seconds == read.wall_seconds
    assert ran.genotype == read.genotype
    assert list(ran.genotypes) == list(read.genotypes) == ["sparse 0.5", "nothing"]
    for label, genotype in ran.genotypes.items():
        assert str(genotype) == str(read.genotypes[label]) and type(genotype) is type(read.genotypes[label])
