"""The variants study end to end at the smoke preset (every searching variant, searched and trained once): its
rows, manifest, files, README and report. The driver starts and stops a local Ray itself (one CPU: the suite's
other worker keeps the other core); no test may leave it running."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.study_runs import (
    STUDY_FILES, check_files_and_readme, check_manifest, check_report_redraws, check_rows, study_run
)
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_ray_left_running")]


@pytest.fixture(params=STUDY_FILES[Path(__file__).name])
def study(request, tmp_path_factory) -> tuple[str, Path]:
    """(name, results folder) of the study's smoke run, run once per session."""
    return request.param, study_run(request.param, tmp_path_factory)


def test_every_study_runs_its_smoke_preset_with_every_row(study):
    check_rows(*study)


def test_every_study_writes_its_manifest(study):
    check_manifest(*study)


def test_every_study_writes_its_files_and_readme(study):
    check_files_and_readme(*study)


def test_report_redraws_identical_tables_and_every_figure(study):
    check_report_redraws(study[1])


def test_every_registered_study_is_run_by_exactly_one_study_file():
    from benchmarks.experiments import EXPERIMENTS

    names = [n for studies in STUDY_FILES.values() for n in studies]
    assert sorted(names) == sorted(EXPERIMENTS)
    assert all((Path(__file__).parent / f).is_file() for f in STUDY_FILES)
