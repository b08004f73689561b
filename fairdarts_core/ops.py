"""The DARTS candidate operations and the two preprocessing blocks (ReLUConvBN, FactorizedReduce).

`affine=False` is the search-time setting (BatchNorm without learnable scale and shift).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .registry import Registry


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv -> BN: the 1x1 preprocessing of cell inputs."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int,
                 affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, dilation=dilation,
                      groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked separable convs (the first carries the stride), as in DARTS."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The 'none' op: zeros of the output shape (strided like the other ops)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class NoiseOp(nn.Module):
    """The R-DARTS S4 'noise' op: Gaussian noise N(mean, std) of the (strided) input's shape, in
    training and evaluation alike; no gradient reaches its input."""

    def __init__(self, stride: int, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.stride, self.mean, self.std = stride, mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return torch.empty_like(x).normal_(self.mean, self.std)


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs, concatenated."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_activated(self.relu(x))

    def forward_activated(self, x: torch.Tensor) -> torch.Tensor:
        """forward of an input that already went through the ReLU."""
        # Odd input sizes: the shifted branch is padded so both halves have the same size.
        shifted = x[:, :, 1:, 1:]
        if x.shape[-1] % 2:
            shifted = nn.functional.pad(shifted, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class Conv7x1x1x7(nn.Sequential):
    def __init__(self, c: int, stride: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(c, c, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )


OpBuilder = Callable[[int, int, bool], nn.Module]

# name -> builder(channels, stride, affine)
OPS: Registry[OpBuilder] = Registry("op", {
    "none": lambda c, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda c, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda c, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": lambda c, stride, affine: Identity() if stride == 1 else FactorizedReduce(c, c, affine),
    "sep_conv_3x3": lambda c, stride, affine: SepConv(c, c, 3, stride, 1, affine),
    "sep_conv_5x5": lambda c, stride, affine: SepConv(c, c, 5, stride, 2, affine),
    "sep_conv_7x7": lambda c, stride, affine: SepConv(c, c, 7, stride, 3, affine),
    "dil_conv_3x3": lambda c, stride, affine: DilConv(c, c, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda c, stride, affine: DilConv(c, c, 5, stride, 4, 2, affine),
    "conv_7x1_1x7": lambda c, stride, affine: Conv7x1x1x7(c, stride, affine),
    "noise": lambda c, stride, affine: NoiseOp(stride),
})


def after_leading_relu(op: nn.Module) -> list[nn.Module] | None:
    """The modules of `op` after its leading ReLU, flattened (SepConv nests a DilConv); None if no ReLU leads.

    Ops whose input passes through a ReLU first can share one ReLU of that input (fast paths). A
    Sequential of one Sequential (the NB201 ReLUConvBN, which nests its layers in a child `op`) is
    looked through."""
    if isinstance(op, nn.Sequential) and len(op) == 1 and isinstance(op[0], nn.Sequential):
        return after_leading_relu(op[0])
    if not isinstance(op, nn.Sequential) or len(op) < 2:
        return None
    head = op[0]
    if isinstance(head, nn.ReLU):
        return list(op)[1:]
    inner = after_leading_relu(head)
    return None if inner is None else inner + list(op)[1:]


def run_tail(relu_x: torch.Tensor, tail: list[nn.Module]) -> torch.Tensor:
    """`tail` applied to an already activated input. Inner ReLUs act in place: their input is a fresh
    BatchNorm output that autograd does not keep, so this saves one tensor per inner ReLU."""
    out = relu_x
    for module in tail:
        out = torch.relu_(out) if isinstance(module, nn.ReLU) and out is not relu_x else module(out)
    return out


def build_op(name: str, channels: int, stride: int, affine: bool = True) -> nn.Module:
    """Build the op `name`; an unknown name is a ValueError that lists the valid ones."""
    return OPS.get(name)(channels, stride, affine)
