"""The FairDARTS zero-one loss at its known points."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.losses import ZERO_ONE_FORMS, zero_one_loss


@pytest.mark.parametrize("form, extreme", [("l2", -0.25), ("l1", -0.5)])
@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_loss_at_zero_and_one(form, extreme, fill):
    w = torch.full((2, 14, 7), fill)
    assert zero_one_loss(w, form).item() == pytest.approx(extreme)


@pytest.mark.parametrize("form", ZERO_ONE_FORMS)
def test_loss_is_zero_at_one_half(form):
    assert zero_one_loss(torch.full((14, 7), 0.5), form).item() == pytest.approx(0.0, abs=1e-12)


def test_default_form_is_l2_and_mixed_values():
    w = torch.tensor([0.0, 0.5, 1.0, 0.25])
    # l2: -mean(0.25, 0, 0.25, 0.0625); l1: -mean(0.5, 0, 0.5, 0.25)
    assert zero_one_loss(w).item() == pytest.approx(-0.140625)
    assert zero_one_loss(w, "l1").item() == pytest.approx(-0.3125)


def test_gradient_pushes_weights_away_from_one_half():
    w = torch.tensor([0.3, 0.7], requires_grad=True)
    zero_one_loss(w).backward()
    # Descent (w - lr * grad) moves 0.3 down and 0.7 up.
    assert w.grad[0] > 0 and w.grad[1] < 0


def test_unknown_form_raises():
    with pytest.raises(ValueError) as info:
        zero_one_loss(torch.zeros(3), "l3")
    assert "l1" in str(info.value) and "l2" in str(info.value)
