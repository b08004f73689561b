"""The generic counters: thop multiply-adds without BatchNorm, leaving the model alone; accuracy."""

from __future__ import annotations

import torch

from fairdarts_core.metrics import accuracy, count_macs
from fairdarts_core.published import PUBLISHED_GENOTYPES
from fairdarts_core.spaces.darts.evalnet import NetworkCIFAR


def test_count_macs_leaves_the_model_unchanged():
    torch.manual_seed(0)
    model = NetworkCIFAR(PUBLISHED_GENOTYPES["FairDARTS_b"], init_channels=4, layers=5).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modules_before = [type(m) for m in model.modules()]
    macs = count_macs(model)
    assert macs > 0
    after = model.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert [type(m) for m in model.modules()] == modules_before  # BatchNorm still there
    assert model.training
    assert count_macs(model) == macs  # and a second count agrees


def test_count_macs_ignores_batchnorm():
    # A conv followed by BN: only the conv's multiply-adds count (3*8*3*3 per pixel, 32x32 pixels).
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8))
    assert count_macs(model) == 3 * 8 * 9 * 32 * 32


def test_accuracy_percent():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 75.0
