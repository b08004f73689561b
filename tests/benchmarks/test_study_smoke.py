"""Every registered study end to end at the smoke preset: its rows, manifest, files, README and report. Each
study is one xdist group (its smoke run happens once, on one worker; the two workers share the studies), and
the parameters come from the registry, so a new study is tested the moment it is registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.experiments import EXPERIMENTS
from tests.benchmarks.study_runs import (
    check_files_and_readme,
    check_manifest,
    check_report_redraws,
    check_rows,
    study_run,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray_left_running")]


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.xdist_group(name)) for name in EXPERIMENTS])
def study(request, tmp_path_factory, nb201_table_file) -> tuple[str, Path]:
    """(name, results folder) of each registered study's smoke run, run once per worker session (a study that
    looks its cells up in NAS-Bench-201 gets the synthetic table)."""
    return request.param, study_run(request.param, tmp_path_factory, nb201_table_file)


def test_every_study_runs_its_smoke_preset_with_every_row(study):
    check_rows(*study)


def test_every_study_writes_its_manifest(study):
    check_manifest(*study)


def test_every_study_writes_its_files_and_readme(study):
    check_files_and_readme(*study)


def test_report_redraws_identical_tables_and_every_figure(study):
    check_report_redraws(study[1])
