"""Candidate ops: shapes at stride 1 and 2, FactorizedReduce, the registry's error message."""

from __future__ import annotations

import pytest
import torch

from fairdarts_core.ops import OPS, FactorizedReduce, build_op
from fairdarts_core.spaces.darts import ALL_OPS, DARTS_PRIMITIVES, PRIMITIVES

C = 4


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_keeps_channels_and_divides_resolution_by_stride(name, stride):
    torch.manual_seed(0)
    op = build_op(name, C, stride)
    x = torch.randn(2, C, 8, 8)
    out = op(x)
    assert out.shape == (2, C, 8 // stride, 8 // stride)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", sorted(OPS))
def test_search_time_ops_have_no_batchnorm_affine_parameters(name, stride):
    op = build_op(name, C, stride, affine=False)
    for module in op.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert module.weight is None and module.bias is None


def test_registry_covers_every_op_a_genotype_may_name():
    # Genotype validation accepts ALL_OPS; every one of them must be buildable by the eval network.
    assert set(ALL_OPS) == set(OPS)
    assert set(PRIMITIVES) < set(DARTS_PRIMITIVES) <= set(OPS)


@pytest.mark.parametrize("stride", [1, 2])
def test_none_op_gives_zeros(stride):
    out = build_op("none", C, stride)(torch.randn(2, C, 8, 8) + 3.0)
    assert out.shape == (2, C, 8 // stride, 8 // stride)
    assert torch.count_nonzero(out) == 0


def test_skip_connect_at_stride_1_is_the_identity():
    x = torch.randn(2, C, 8, 8)
    assert torch.equal(build_op("skip_connect", C, 1)(x), x)


@pytest.mark.parametrize("size, expected", [(8, 4), (16, 8), (7, 4)])
def test_factorized_reduce_halves_resolution(size, expected):
    fr = FactorizedReduce(C, 2 * C)
    out = fr(torch.randn(2, C, size, size))
    assert out.shape == (2, 2 * C, expected, expected)


def test_factorized_reduce_rejects_odd_output_channels():
    with pytest.raises(ValueError):
        FactorizedReduce(C, 5)


def test_build_op_unknown_name_lists_valid_ops():
    with pytest.raises(ValueError) as info:
        build_op("sep_conv_9x9", C, 1)
    message = str(info.value)
    assert "sep_conv_9x9" in message
    for name in OPS:
        assert name in message
