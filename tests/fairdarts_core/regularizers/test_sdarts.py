"""SDARTS (sdarts_rs, sdarts_adv): the projection, the eps ramp, and two search steps against the official code.

tests/fixtures/sdarts_official.json holds two steps of the official SDARTS loop body (xiangning-chen/SmoothDARTS
sota/cnn/train_search.py `train`, attacker/perturb.py `Random_alpha` / `Linf_PGD_alpha`, the supernet of
sota/cnn/model_search.py), run outside the project in float64 by tests/fixtures/sdarts_official_record.py, whose
docstring says how. `_run` below builds our supernet with the same tensors and replays the same steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fairdarts_core.regularizers.sdarts import SDARTSRandom, project
from fairdarts_core.search_config import SearchConfig
from fairdarts_core.search_run import SearchRun
from fairdarts_core.variant import Progress
from variants import make_variant

OFFICIAL = json.loads((Path(__file__).parents[2] / "fixtures" / "sdarts_official.json").read_text())
CONFIG = SearchConfig(epochs=50, init_channels=4, layers=3, learning_rate=0.025, momentum=0.9, weight_decay=3e-4,
                      arch_learning_rate=0.01, arch_beta1=0.5, arch_weight_decay=1e-3, channels_last=False)
ATTACKS = {"random": "sdarts_rs", "pgd_linf": "sdarts_adv"}


def _fill(model: torch.nn.Module, seed: int) -> None:
    """As the recorder: every state_dict tensor but the alphas, masks and batch counters, in order."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked") or name.startswith(("arch.", "op_mask")):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen, dtype=torch.float64) + 0.5)
            else:
                t.copy_(0.5 * torch.randn(t.shape, generator=gen, dtype=torch.float64))


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(4, 3, 16, 16, generator=gen, dtype=torch.float64),
            torch.randint(0, 10, (4,), generator=gen))


def _run(name: str, fast: bool) -> SearchRun:
    run = SearchRun(make_variant(name), CONFIG.__class__(**{**CONFIG.__dict__, "fast": fast}))
    run.start_stage(10)
    run.model.double()
    _fill(run.model, 1)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for a in run.model.arch_parameters():
            a.copy_(0.5 * torch.randn(a.shape, generator=gen, dtype=torch.float64))
    run.progress = Progress(0, 1, 25, 50, 25, 50)
    return run


def test_projection_clamps_and_renormalizes_softmax_rows_and_only_clamps_sigmoid_ones():
    w = torch.tensor([[0.5, -0.2, 0.9], [-0.1, -0.3, -0.2]], dtype=torch.float64)
    # Row 0: clamp to (0.5, 0, 0.9), then / 1.4; row 1 clamps to zeros: 1 on the op largest before the clamp.
    torch.testing.assert_close(project(w, "softmax"), torch.tensor([[0.5 / 1.4, 0, 0.9 / 1.4], [1.0, 0, 0]],
                                                                   dtype=torch.float64))
    torch.testing.assert_close(project(w, "sigmoid"), w.clamp(0, 1))


def test_eps_ramps_linearly_in_the_epoch_as_the_official_script():
    reg = SDARTSRandom()
    for epoch, eps in OFFICIAL["eps_schedule"].items():
        assert reg.epsilon(Progress(0, 1, int(epoch), 50, int(epoch), 50)) == pytest.approx(eps, abs=1e-15)


class _Recording:
    """A regularizer that keeps what its `perturb` returned."""

    def __init__(self, reg):
        self.reg, self.seen = reg, []

    def __getattr__(self, name):
        return getattr(self.reg, name)

    def perturb(self, run, weights, xy):
        self.seen.append(self.reg.perturb(run, weights, xy))
        return self.seen[-1]


@pytest.mark.parametrize("attack, fast", [("random", False), ("random", True), ("pgd_linf", True)])
def test_two_steps_match_the_official_perturbation_weight_step_and_arch_step(attack, fast):
    run = _run(ATTACKS[attack], fast)
    run.regularizers = (recording := _Recording(run.regularizers[0]),)
    for step, official in enumerate(OFFICIAL[attack]):
        x, xv = _batch(10 + step), _batch(20 + step)
        run.arch_step(x, xv)
        for a, want in zip(run.model.arch_parameters(), official["alphas"]):
            torch.testing.assert_close(a.detach(), torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-10)
        torch.manual_seed(100 + step)  # the official perturbation's draws
        loss, _ = run.weight_step(x)
        for w, want in zip(recording.seen[-1].values(), official["perturbed"]):
            torch.testing.assert_close(w, torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-10)
        assert loss.item() == pytest.approx(official["loss"], abs=1e-10)
        params = run.model.weight_parameters()
        assert [p.sum().item() for p in params] == pytest.approx(official["param_sums"], abs=1e-9)
        assert [p.abs().sum().item() for p in params] == pytest.approx(official["param_abs_sums"], abs=1e-9)


def test_rejects_weights_that_are_not_per_edge_softmax_or_sigmoid_and_single_level():
    with pytest.raises(ValueError, match="sdarts_rs perturbs per-edge softmax or sigmoid weights; pc_darts"):
        make_variant("pc_darts", regularizers=("sdarts_rs",))
    make_variant("fair_darts", regularizers=("sdarts_adv",))  # sigmoid weights: clamped to [0, 1]
    with pytest.raises(ValueError, match="not with single_level"):
        SearchRun(make_variant("sdarts_rs"), SearchConfig(single_level=True))
