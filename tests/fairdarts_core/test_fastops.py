"""fastops: the faster depthwise convs and BatchNorm compute what nn.Conv2d and nn.BatchNorm2d compute, in
the evaluation networks and the supernets."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from fairdarts_core import fastops
from fairdarts_core.fastops import ChannelsLastBatchNorm2d, DepthwiseConv2d, SubsampledDilatedConv2d, speed_up
from fairdarts_core.published import PUBLISHED_GENOTYPES
from fairdarts_core.train import TrainConfig, build_model

CL = torch.channels_last


def _pair(module: nn.Module, fast_class: type) -> tuple[nn.Module, nn.Module]:
    fast = copy.deepcopy(module)
    fast.__class__ = fast_class
    return module, fast


def _outputs_and_grads(module: nn.Module, x: torch.Tensor, grad: torch.Tensor):
    x = x.clone().requires_grad_()
    module.zero_grad(set_to_none=True)
    y = module(x)
    y.backward(grad)
    return y.detach(), x.grad, [p.grad for p in module.parameters()]


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("channels_last", [True, False])
def test_subsampled_dilated_conv_equals_the_dilated_conv(kernel, stride, channels_last):
    torch.manual_seed(0)
    plain, fast = _pair(nn.Conv2d(6, 6, kernel, stride, padding=kernel - 1, dilation=2, groups=6, bias=False),
                        SubsampledDilatedConv2d)
    x = torch.randn(3, 6, 12, 12)
    if channels_last:
        plain, fast, x = plain.to(memory_format=CL), fast.to(memory_format=CL), x.contiguous(memory_format=CL)
    grad = torch.randn_like(plain(x))
    y0, gx0, gw0 = _outputs_and_grads(plain, x, grad)
    y1, gx1, gw1 = _outputs_and_grads(fast, x, grad)
    assert y1.is_contiguous(memory_format=CL if channels_last else torch.contiguous_format)
    assert torch.allclose(y0, y1, atol=1e-5)
    assert torch.allclose(gx0, gx1, atol=1e-5)
    assert torch.allclose(gw0[0], gw1[0], atol=1e-4)


@pytest.mark.parametrize("stride, size", [(2, 7), (1, 8)])
def test_subsampled_dilated_conv_runs_odd_sizes_and_stride_1_as_the_plain_conv(stride, size):
    torch.manual_seed(0)
    plain, fast = _pair(nn.Conv2d(4, 4, 3, stride, padding=2, dilation=2, groups=4, bias=False),
                        SubsampledDilatedConv2d)
    x = torch.randn(2, 4, size, size)
    assert torch.equal(plain(x), fast(x))


def _batchnorm_pair(channels: int, affine: bool = True) -> tuple[nn.BatchNorm2d, nn.BatchNorm2d]:
    bn = nn.BatchNorm2d(channels, affine=affine)
    if affine:
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    return _pair(bn, ChannelsLastBatchNorm2d)


def _depthwise(channels: int, kernel: int, dilation: int) -> tuple[nn.Module, nn.Module]:
    conv = nn.Conv2d(channels, channels, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation,
                     groups=channels, bias=False)
    return _pair(conv.to(memory_format=CL), DepthwiseConv2d)


@pytest.mark.parametrize("kernel, dilation", [(5, 1), (3, 2), (5, 2)])
@pytest.mark.parametrize("size", [12, 7], ids=["even", "odd"])
def test_depthwise_conv_equals_the_conv(kernel, dilation, size):
    """Outputs, input and weight gradients; odd sizes take the weight gradient without parity phases."""
    torch.manual_seed(0)
    plain, fast = _depthwise(6, kernel, dilation)
    x = torch.randn(3, 6, size, size).contiguous(memory_format=CL)
    grad = torch.randn_like(plain(x))
    y0, gx0, gw0 = _outputs_and_grads(plain, x, grad)
    y1, gx1, gw1 = _outputs_and_grads(fast, x, grad)
    assert fast(x.clone().requires_grad_()).grad_fn.name() == "_DepthwiseConvBackward"
    assert gx1.is_contiguous(memory_format=CL)
    assert torch.equal(y0, y1)
    assert torch.allclose(gx0, gx1, atol=1e-5)
    assert torch.allclose(gw0[0], gw1[0], atol=1e-4)


@pytest.mark.parametrize("wrt", ["input", "weight"])
def test_depthwise_conv_computes_only_the_gradient_asked_for(wrt, monkeypatch):
    """The architecture step asks for no weight gradient (torch.autograd.grad of a non-leaf input's path)."""
    torch.manual_seed(0)
    plain, fast = _depthwise(6, 5, 2)
    weight_grads = []
    real = fastops._depthwise_weight_grad
    monkeypatch.setattr(fastops, "_depthwise_weight_grad", lambda *a: weight_grads.append(1) or real(*a))
    x = torch.randn(3, 6, 12, 12).contiguous(memory_format=CL).requires_grad_()
    results = []
    for module in (plain, fast):
        h = torch.relu(x)  # a non-leaf input, as inside a network
        target = h if wrt == "input" else module.weight
        results.append(torch.autograd.grad(module(h).square().sum(), target)[0])
    assert torch.allclose(results[0], results[1], atol=1e-4)
    assert bool(weight_grads) == (wrt == "weight")


def test_depthwise_conv_runs_the_plain_conv_without_gradients_or_in_nchw():
    plain, fast = _depthwise(4, 5, 1)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        assert torch.equal(plain(x.contiguous(memory_format=CL)), fast(x.contiguous(memory_format=CL)))
    y = fast(x.requires_grad_())
    assert y.grad_fn.name() == "ConvolutionBackward0" and torch.equal(y, plain(x))


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "search-time"])
@pytest.mark.parametrize("channels", [4, 8, 12, 36, 72])
def test_channels_last_batchnorm_equals_batchnorm_in_training(channels, affine):
    torch.manual_seed(0)
    plain, fast = _batchnorm_pair(channels, affine)
    x = (torch.randn(4, channels, 8, 8) * 3 + 2).contiguous(memory_format=CL)  # mean far from 0
    grad = torch.randn_like(x)
    y0, gx0, grads0 = _outputs_and_grads(plain, x, grad)
    y1, gx1, grads1 = _outputs_and_grads(fast, x, grad)
    assert y1.is_contiguous(memory_format=CL)
    assert torch.allclose(y0, y1, atol=1e-5)
    assert torch.allclose(gx0, gx1, atol=1e-5)
    assert len(grads0) == len(grads1) == (2 if affine else 0)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(grads0, grads1))
    assert torch.allclose(plain.running_mean, fast.running_mean, atol=1e-6)
    assert torch.allclose(plain.running_var, fast.running_var, atol=1e-5)
    assert plain.num_batches_tracked.item() == fast.num_batches_tracked.item() == 1


def test_channels_last_batchnorm_output_can_take_an_inplace_relu():
    torch.manual_seed(0)
    plain, fast = _batchnorm_pair(36)
    x = torch.randn(2, 36, 4, 4).contiguous(memory_format=CL).requires_grad_()
    torch.relu_(fast(x)).sum().backward()
    expected = torch.autograd.grad(torch.relu(plain(x)).sum(), x)[0]
    assert torch.allclose(x.grad, expected, atol=1e-5)


@pytest.mark.parametrize("case", ["eval", "nchw", "width 16"])
def test_channels_last_batchnorm_elsewhere_runs_batchnorm_itself(case):
    torch.manual_seed(0)
    plain, fast = _batchnorm_pair(16 if case == "width 16" else 36)
    x = torch.randn(4, plain.num_features, 6, 6)
    if case != "nchw":
        x = x.contiguous(memory_format=CL)
    if case == "eval":
        plain.eval(), fast.eval()
    assert torch.equal(plain(x), fast(x))
    assert torch.equal(plain.running_mean, fast.running_mean)


def test_speed_up_swaps_only_the_slow_convs_and_odd_width_batchnorms():
    model = nn.Sequential(nn.Conv2d(36, 36, 3, 2, padding=2, dilation=2, groups=36),
                          nn.Conv2d(36, 36, 3, padding=2, dilation=2, groups=36, bias=False),
                          nn.Conv2d(36, 36, 5, padding=2, groups=36, bias=False),
                          nn.Conv2d(36, 36, 3, padding=1, groups=36, bias=False),  # oneDNN's backward is fast
                          nn.Conv2d(36, 36, 5, padding=2, groups=36),  # a bias: not the ops' form
                          nn.Conv2d(36, 36, 5, padding=2),  # dense
                          nn.BatchNorm2d(36), nn.BatchNorm2d(8, affine=False), nn.BatchNorm2d(32))
    keys, params = list(model.state_dict()), list(model.parameters())
    assert speed_up(model) is model
    assert [type(m) for m in model] == [SubsampledDilatedConv2d, DepthwiseConv2d, DepthwiseConv2d, nn.Conv2d,
                                        nn.Conv2d, nn.Conv2d, ChannelsLastBatchNorm2d, ChannelsLastBatchNorm2d,
                                        nn.BatchNorm2d]
    assert list(model.state_dict()) == keys
    assert all(p is q for p, q in zip(model.parameters(), params))


def test_training_network_uses_the_fast_modules_only_on_the_fast_path():
    genotype = PUBLISHED_GENOTYPES["FairDARTS_a"]  # its reduce cell holds a dil_conv_5x5 at stride 2
    small = dict(init_channels=4, layers=3)
    fast = build_model(genotype, TrainConfig(**small), 10, torch.device("cpu"))
    plain = build_model(genotype, TrainConfig(fast=False, channels_last=False, **small), 10, torch.device("cpu"))
    kinds = lambda m: {type(x) for x in m.modules()}  # noqa: E731
    assert {SubsampledDilatedConv2d, DepthwiseConv2d, ChannelsLastBatchNorm2d} <= kinds(fast)
    assert not {SubsampledDilatedConv2d, DepthwiseConv2d, ChannelsLastBatchNorm2d} & kinds(plain)


@pytest.mark.parametrize("name", ["FairDARTS_a", "DARTS_V2"])
def test_fast_training_network_matches_the_plain_one(name):
    """The whole fast path (channels_last, shared ReLUs, fastops) against the plain NCHW network."""
    genotype = PUBLISHED_GENOTYPES[name]
    small = dict(init_channels=6, layers=5)
    torch.manual_seed(0)
    plain = build_model(genotype, TrainConfig(fast=False, channels_last=False, **small), 10, torch.device("cpu"))
    fast = build_model(genotype, TrainConfig(**small), 10, torch.device("cpu"))
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(8, 3, 32, 32)
    y = torch.randint(0, 10, (8,))
    results = []
    for model, inp in ((plain, x), (fast, x.contiguous(memory_format=CL))):
        model.train()
        logits, aux = model(inp)
        loss = nn.functional.cross_entropy(logits, y) + 0.4 * nn.functional.cross_entropy(aux, y)
        loss.backward()
        results.append((loss.item(), {n: p.grad for n, p in model.named_parameters()}, model.state_dict()))
    (loss0, grads0, state0), (loss1, grads1, state1) = results
    assert loss0 == pytest.approx(loss1, rel=1e-5)
    for n in grads0:
        assert torch.allclose(grads0[n], grads1[n], atol=1e-4, rtol=1e-3), n
    for n in state0:
        assert torch.allclose(state0[n].float(), state1[n].float(), atol=1e-5), n
