"""`darts-bench search`'s regularizer flags: --regularizer NAME (repeatable) and --reg-OPTION, with the published
variants' defaults in the help, and one-line errors before anything runs."""

from __future__ import annotations

import contextlib
import io

import pytest

from benchmarks.cli import build_parser, main
from benchmarks.options import regularizer_options
from variants import METHODS, make_method


def _parse(*argv: str):
    args = build_parser(only="search").parse_args(["search", *argv, "--out", "unused"])
    return args, regularizer_options(args, args.regularizer_names, METHODS[args.variant])


def test_help_of_a_published_variant_shows_the_regularizer_options_and_their_published_defaults():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["search", "--variant", "sdarts_adv", "--help"])
    text = " ".join(out.getvalue().split())
    assert "--regularizer NAME" in text
    assert "--reg-epsilon-max MAX SDARTS: the eps the linear ramp heads for" in text and "(default: 0.3)" in text
    assert "--reg-pgd-steps STEPS" in text and "(default: 7)" in text
    assert "--regularizers" not in text and "--regularizer-options" not in text


def test_flags_add_to_the_variants_own_regularizers_and_set_their_options():
    _, given = _parse("--variant", "fair_darts", "--regularizer", "beta", "--reg-beta-lambda", "10")
    assert given == {"regularizers": ("beta",), "regularizer_options": {"beta_lambda": 10.0}}
    variant = make_method("fair_darts", **given)
    assert variant.regularizer_objects()[0].beta_lambda == 10.0
    _, given = _parse("--variant", "sdarts_rs", "--regularizer", "beta", "--regularizer", "rdarts_l2")
    assert given["regularizers"] == ("sdarts_rs", "beta", "rdarts_l2")
    assert _parse("--variant", "darts")[1] == {}


@pytest.mark.parametrize("argv, message", [
    (["--variant", "darts", "--reg-epsilon-max", "0.2"], "regularizer option(s) epsilon_max belong to none of the "
                                                          "regularizers (none)"),
    (["--variant", "pc_darts", "--regularizer", "sdarts_rs"], "sdarts_rs perturbs per-edge softmax or sigmoid"),
    (["--variant", "random_darts", "--regularizer", "beta"], "random_darts samples genotypes"),
    (["--variant", "sdarts_rs", "--reg-epsilon-min", "0.5", "--reg-epsilon-max", "0.1"], "epsilon_min and "
                                                                                          "epsilon_max must"),
])
def test_bad_regularizer_settings_are_one_line_errors_before_anything_runs(argv, message, tmp_path):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["search", *argv, "--preset", "smoke", "--out", str(tmp_path / "run")])
    assert code == 2 and message in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
