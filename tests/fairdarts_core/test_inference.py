"""Inference helpers: BatchNorm folded into the convs and chunked prediction give the eval outputs of
the network itself."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.inference import fold_batchnorm, predict
from fairdarts_core.published import PUBLISHED_GENOTYPES
from fairdarts_core.spaces.darts.evalnet import NetworkCIFAR

C, LAYERS = 4, 5


def _trained(name: str, fast: bool = False, channels_last: bool = False) -> NetworkCIFAR:
    """A DARTS network after a few training-mode forwards (so the BatchNorm running statistics are not the
    identity), in eval mode."""
    torch.manual_seed(0)
    model = NetworkCIFAR(PUBLISHED_GENOTYPES[name], C, LAYERS, 10, fast=fast)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 32, 32) * 2 + 0.5)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.eval()


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_folded_batchnorm_gives_the_same_eval_outputs(channels_last, fast):
    model = _trained("FairDARTS_b", fast, channels_last)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.cells.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.cells.modules())  # the original is untouched
    x = torch.randn(5, 3, 32, 32)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.allclose(folded(x)[0], model(x)[0], atol=1e-5, rtol=1e-4)


def test_predict_in_chunks_equals_one_forward():
    model = _trained("FairDARTS_a")
    x = torch.randn(7, 3, 32, 32)
    with torch.no_grad():
        whole = model(x)[0]
        assert torch.allclose(predict(model, x, chunk=3), whole, atol=1e-6)
        assert predict(model, x).shape == whole.shape
