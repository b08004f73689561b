"""beta (beta-DARTS): the beta-decay term, its lambda ramp, and two architecture steps against the official code.

tests/fixtures/beta_darts_official.json holds the official `Architect.mlc_loss` and `_backward_step`
(Sunshine-Ye/Beta-DARTS optimizers/darts/architect.py) run outside the project in float64 by
tests/fixtures/beta_darts_official_record.py, whose docstring says how; the supernet and its filling are those
of test_sdarts.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_sdarts import CONFIG, _batch, _run

from fairdarts_core.regularizers.beta import BetaDecay
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import SearchRun
from fairdarts_core.variant import Progress
from variants import make_variant

OFFICIAL = json.loads((Path(__file__).parents[2] / "fixtures" / "beta_darts_official.json").read_text())


def _progress(epoch: int, epochs: int = 100) -> Progress:
    return Progress(0, 1, epoch, epochs, epoch, epochs)


def test_term_and_its_gradient_match_the_official_mlc_loss_on_an_nb201_cell():
    alphas = torch.tensor(OFFICIAL["term"]["alphas"], dtype=torch.float64, requires_grad=True)
    term = BetaDecay(beta_lambda=100.0).arch_term({"alphas_cell": alphas}, _progress(1))  # lambda 1
    grad, = torch.autograd.grad(term, alphas)
    assert term.item() == pytest.approx(OFFICIAL["term"]["value"], abs=1e-12)
    torch.testing.assert_close(grad, torch.tensor(OFFICIAL["term"]["grad"], dtype=torch.float64), rtol=0, atol=1e-12)


def test_lambda_ramps_as_the_official_nb201_script_over_its_100_epochs():
    reg = BetaDecay()
    for epoch, value in OFFICIAL["lambdas"].items():
        assert reg.weight(_progress(int(epoch))) == pytest.approx(value, abs=1e-12)
    assert reg.weight(_progress(25, 50)) == pytest.approx(25.0)  # the same ramp over a 50-epoch search


def test_two_arch_steps_match_the_official_architect():
    run = _run("beta_darts", fast=True)
    run.progress = _progress(OFFICIAL["epoch"], OFFICIAL["epochs"])
    for step, official in enumerate(OFFICIAL["steps"]):
        run.arch_step(None, _batch(20 + step))
        for a, want in zip(run.model.arch_parameters(), official["alphas"]):
            torch.testing.assert_close(a.detach(), torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-10)


def test_the_term_joins_the_second_order_and_single_level_steps_and_any_activation():
    """Second order: the term's gradient is added to the hypergradient; single level: to the one step."""
    for config in (SearchConfig(**{**CONFIG.__dict__, "order": "second"}),
                   SearchConfig(**{**CONFIG.__dict__, "single_level": True})):
        runs = []
        for regs in ((), ("beta",)):
            run = SearchRun(make_variant("fair_darts", regularizers=regs), config)
            run.start_stage(10)
            run.model.double()
            run.progress = _progress(50)
            runs.append(run)
        x, xv = _batch(10), _batch(20)
        for run in runs:
            run.step(x, None if config.single_level else xv)
        moved = [torch.cat([a.detach().flatten() for a in run.model.arch_parameters()]) for run in runs]
        assert not torch.allclose(moved[0], moved[1])
