"""Faster CPU forms of the convolutions and BatchNorms of the supernets and evaluation networks, for
their channels_last training steps.

oneDNN's backward of a dilated depthwise conv is 10-60x its forward at stride 2 on CPU, and ATen's
channels_last BatchNorm slows down ~4x when the channel count is not a multiple of 16 (C=36 and 72 in the CIFAR
network, 8 in the quick supernet). `speed_up(model)` gives such modules a forward that computes
the same sums another way; parameters, buffers and state_dict keys are unchanged, and everywhere
else (CUDA, NCHW, eval mode, odd sizes) the modules run exactly as before.

oneDNN's depthwise backward is also slow where its forward is not: for a dilated conv (input and weight
gradient 5-10x the forward) and for the weight gradient of a 5-wide kernel (10x the forward, where a
5-tall, 3-wide one costs about what the forward does). `DepthwiseConv2d` keeps oneDNN's forward and
computes the backward from fast convolutions (`_DepthwiseConv`).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

# ATen's channels_last BatchNorm kernels vectorize over 16 channels (AVX-512 floats); widths that
# are a multiple of 16 run at full speed.
_VECTOR_WIDTH = 16


class SubsampledDilatedConv2d(nn.Conv2d):
    """A dilation-2 conv at stride 2 ("same" padding): every tap reads even rows and columns, so the
    output is the dense (dilation 1) conv of x[..., ::2, ::2], whose backward is fast where the
    dilated one is not (C=16, 32x32, batch 32, kernel 5: 6.4 -> 0.4 ms forward + backward). At
    stride 1, stacking the four parity phases measured slower than the dilated conv, which runs as it is."""

    def _subsampled(self, x: torch.Tensor) -> bool:
        k = self.kernel_size[0]
        return (self.dilation == (2, 2) and self.stride == (2, 2) and self.kernel_size == (k, k) and k % 2 == 1
                and self.padding == (k - 1, k - 1) and self.padding_mode == "zeros"
                and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4 or not self._subsampled(x):
            return super().forward(x)
        fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        pad = (self.kernel_size[0] - 1) // 2
        sub = x[:, :, ::2, ::2].contiguous(memory_format=fmt)
        if _bias_free_depthwise(self) and _has_fast_backward(sub, self.weight):
            return _DepthwiseConv.apply(sub, _tracked(self.weight), 1)
        return F.conv2d(sub, self.weight, self.bias, 1, pad, 1, self.groups)


def _bias_free_depthwise(conv: nn.Conv2d) -> bool:
    """A bias-free depthwise conv with an odd square kernel and zero padding (the form `_DepthwiseConv` runs)."""
    k = conv.kernel_size[0]
    return (conv.bias is None and conv.groups == conv.in_channels == conv.out_channels
            and conv.kernel_size == (k, k) and k % 2 == 1 and conv.padding_mode == "zeros")


def _has_fast_backward(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether `_DepthwiseConv` may run on `x`: a CPU float32 channels_last batch with a gradient to take."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4
            and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
            and torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))


def _tracked(weight: torch.Tensor) -> torch.Tensor:
    """The weight behind an alias node, so that the backward can ask the engine whether the weight's gradient
    is wanted (the engine answers only for non-leaf nodes under torch.autograd.grad)."""
    return weight.view_as(weight)


def _wanted(ctx, index: int) -> bool:
    """Whether the running backward needs the gradient of input `index` (the architecture step, say, needs
    no weight gradient); where the engine cannot tell, whether that input requires one."""
    if not ctx.needs_input_grad[index]:
        return False
    node = ctx.next_functions[index][0]
    try:
        return node is not None and torch._C._will_engine_execute_node(node)
    except (AttributeError, RuntimeError):  # a leaf under torch.autograd.grad, or an older torch
        return True


def _depthwise_weight_grad(grad: torch.Tensor, x: torch.Tensor, k: int, dilation: int) -> torch.Tensor:
    """The weight gradient of the stride-1 'same' depthwise conv of `x` with a k x k kernel: a dilation-2 conv
    as the dense conv of the four parity phases stacked on the batch; a dense 5x5 kernel as two 5x3 column
    blocks (oneDNN is fast up to 3 wide); oneDNN's own kernel for the rest (dense k <= 3, odd sizes)."""
    n, c, h, w = x.shape
    if dilation == 2 and h % 2 == 0 and w % 2 == 0:
        return _depthwise_weight_grad(_phases(grad), _phases(x), k, 1)
    pad = dilation * (k - 1) // 2
    m = 3
    if dilation != 1 or k <= m or k > 2 * m - 1:
        return _weight_grad(grad, x, (c, 1, k, k), (pad, pad), dilation)
    # Each block gets its own column padding (a column slice of one padded copy is not channels_last-
    # contiguous, and oneDNN would copy it); the conv pads the rows.
    left = _weight_grad(grad, F.pad(x, (k - m, 0, 0, 0)), (c, 1, k, m), (pad, 0), 1)  # columns 0 .. m-1
    right = _weight_grad(grad, F.pad(x, (0, k - m, 0, 0)), (c, 1, k, m), (pad, 0), 1)  # columns k-m .. k-1
    return torch.cat([left, right[..., 2 * m - k:]], dim=-1)


def _weight_grad(grad: torch.Tensor, x: torch.Tensor, shape: tuple[int, int, int, int], padding: tuple[int, int],
                 dilation: int) -> torch.Tensor:
    weight = grad.new_empty(()).expand(shape)  # only its shape is read
    return torch.ops.aten.convolution_backward(grad, x, weight, None, [1, 1], list(padding), [dilation, dilation],
                                               False, [0, 0], shape[0], [False, True, False])[1]


def _phases(x: torch.Tensor) -> torch.Tensor:
    """The four parity phases x[:, :, a::2, b::2] of an even-sized batch, stacked on the batch (channels_last)."""
    n, c, h, w = x.shape
    out = torch.empty((4 * n, c, h // 2, w // 2), dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    for i, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[i * n: (i + 1) * n] = x[:, :, a::2, b::2]
    return out


class _DepthwiseConv(torch.autograd.Function):
    """A bias-free depthwise conv at stride 1 with 'same' padding on a channels_last CPU batch: oneDNN's
    forward; the input gradient as the forward conv of the output gradient with the flipped kernel (exact
    for stride 1), the weight gradient by `_depthwise_weight_grad`. Each gradient only when the backward wants it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, dilation: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.dilation = dilation
        k = weight.shape[-1]
        return F.conv2d(x, weight, None, 1, dilation * (k - 1) // 2, dilation, weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        d, k, c = ctx.dilation, weight.shape[-1], weight.shape[0]
        grad = grad.contiguous(memory_format=torch.channels_last)
        grad_x = grad_w = None
        if _wanted(ctx, 0):
            grad_x = F.conv2d(grad, weight.flip(-1, -2), None, 1, d * (k - 1) // 2, d, c)
        if _wanted(ctx, 1):
            grad_w = _depthwise_weight_grad(grad, x, k, d).contiguous().view_as(weight)
        return grad_x, grad_w, None


class DepthwiseConv2d(nn.Conv2d):
    """A stride-1 'same' depthwise conv (dilation 2, or 5x5) whose CPU channels_last training step runs as
    `_DepthwiseConv`; everywhere else nn.Conv2d."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _has_fast_backward(x, self.weight) and _slow_in_onednn(self):
            return _DepthwiseConv.apply(x, _tracked(self.weight), self.dilation[0])
        return super().forward(x)


def _slow_in_onednn(conv: nn.Conv2d) -> bool:
    """A bias-free stride-1 'same' depthwise conv whose oneDNN backward is slow: dilation 2, or a 5x5 kernel."""
    d, k = conv.dilation[0], conv.kernel_size[0]
    return (_bias_free_depthwise(conv) and conv.stride == (1, 1) and conv.dilation == (d, d)
            and (d == 2 and k <= 5 or d == 1 and k == 5) and conv.padding == (d * (k - 1) // 2,) * 2)


def _vector_group(channels: int, pixels: int) -> int:
    """How many pixels' channels to lay side by side so that a row is a multiple of 16 floats (1: no need,
    or none fits)."""
    if channels % _VECTOR_WIDTH == 0:
        return 1
    for g in (2, 4, 8, 16):
        if (g * channels) % _VECTOR_WIDTH == 0 and pixels % g == 0:
            return g
    return 1


def _wide(x: torch.Tensor, g: int) -> torch.Tensor:
    """A view of channels_last (N, C, H, W) as channels_last (1, g*C, 1, N*H*W/g): g pixels side by side
    form one wide pixel. The memory is the same; each of x's channels is g channels of the view."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(1, 1, n * h * w // g, g * c).permute(0, 3, 1, 2)


def _flat(wide: torch.Tensor) -> torch.Tensor:
    """The (N*H*W/g, g*C) matrix view of a wide tensor: one wide pixel per row."""
    return wide.permute(0, 2, 3, 1).reshape(-1, wide.shape[1])


class _ChannelsLastBatchNorm(torch.autograd.Function):
    """Training-mode BatchNorm of a channels_last tensor whose width C is not a multiple of 16, run by
    ATen's fast kernels on the (g*C)-wide view and combined over the g copies of each channel."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float, g: int):
        c = x.shape[1]
        wide = _wide(x, g)
        mean_g, var_g = torch.batch_norm_update_stats(wide, None, None, 0.0)  # per wide channel, biased
        mean_g, var_g = mean_g.view(g, c), var_g.view(g, c)
        mean = mean_g.mean(0)
        var = (var_g + (mean_g - mean).square()).mean(0)  # equal-sized groups: exact pooled variance
        invstd = torch.rsqrt(var + eps)
        scale = weight * invstd
        shift = bias - mean * scale
        # Written through a view into a tensor of x's layout, so that the output is not a view
        # (a later in-place ReLU on it would otherwise be refused).
        out = torch.empty_like(x)
        torch.addcmul(shift.repeat(g), _flat(wide), scale.repeat(g), out=_flat(_wide(out, g)))
        ctx.save_for_backward(x, weight, mean, var, invstd)
        ctx.eps, ctx.g = eps, g
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor, _grad_mean, _grad_var):
        x, weight, mean, var, invstd = ctx.saved_tensors
        g, eps = ctx.g, ctx.eps
        n, c, h, w = x.shape
        count = n * h * w
        wide, grad_wide = _wide(x, g), _wide(grad_out.contiguous(memory_format=torch.channels_last), g)
        # Eval-mode backward with the batch statistics: the per-wide-channel sums of dy * xhat and dy.
        _, dy_xhat_g, dy_g = torch.ops.aten.native_batch_norm_backward(
            grad_wide, wide, None, mean.repeat(g), var.repeat(g), None, None, False, eps, [False, True, True])
        sum_dy_xhat, sum_dy = dy_xhat_g.view(g, c).sum(0), dy_g.view(g, c).sum(0)
        grad_x = None
        if ctx.needs_input_grad[0]:
            # dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) = a*dy + b*x + k
            a = weight * invstd
            b = -a * invstd * sum_dy_xhat / count
            k = -a * sum_dy / count - b * mean
            grad_x = torch.empty_like(x)
            rows = _flat(_wide(grad_x, g))
            torch.addcmul(k.repeat(g), _flat(grad_wide), a.repeat(g), out=rows).addcmul_(_flat(wide), b.repeat(g))
        return grad_x, sum_dy_xhat, sum_dy, None, None


class ChannelsLastBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose CPU training step on channels_last input runs as `_ChannelsLastBatchNorm` when
    its width is not a multiple of 16; running statistics are updated as nn.BatchNorm2d does."""

    def _group(self, x: torch.Tensor) -> int:
        """How many pixels `_ChannelsLastBatchNorm` lays side by side for `x`; 0: run nn.BatchNorm2d."""
        if not (self.training and self.track_running_stats and self.momentum is not None
                and x.device.type == "cpu" and x.dim() == 4 and x.dtype == torch.float32
                and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()):
            return 0
        g = _vector_group(x.shape[1], x.shape[0] * x.shape[2] * x.shape[3])
        return g if g > 1 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return batch_norm(self, x)


def batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """What `bn(x)` computes; odd widths on the CPU take the `_ChannelsLastBatchNorm` form when `bn` is a
    ChannelsLastBatchNorm2d. Running statistics and the batch counter update as nn.BatchNorm2d's."""
    g = bn._group(x) if isinstance(bn, ChannelsLastBatchNorm2d) else 0
    if g == 0:
        return nn.BatchNorm2d.forward(bn, x)
    weight, bias = (bn.weight, bn.bias) if bn.affine else (_ones(x, bn), _zeros(x, bn))
    out, mean, var = _ChannelsLastBatchNorm.apply(x, weight, bias, bn.eps, g)
    count = x.shape[0] * x.shape[2] * x.shape[3]
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        bn.running_mean.lerp_(mean, bn.momentum)
        bn.running_var.lerp_(var * (count / (count - 1)), bn.momentum)
    return out


def _ones(x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    return torch.ones(bn.num_features, dtype=x.dtype, device=x.device)


def _zeros(x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    return torch.zeros(bn.num_features, dtype=x.dtype, device=x.device)


def speed_up(model: nn.Module) -> nn.Module:
    """Give the dilation-2 stride-2 convs, the bias-free stride-1 'same' depthwise convs of kernel 5 or dilation
    2, and the BatchNorms whose width is not a multiple of 16 their faster subclass, in place; returns `model`.

    The subclasses hold no state of their own, so swapping the class keeps each module's
    parameters, buffers, hooks and the references other modules hold to it. (thop counts modules
    by exact class: profile networks built without this.)"""
    for module in model.modules():
        if type(module) is nn.Conv2d and module.dilation == (2, 2) and module.stride == (2, 2):
            module.__class__ = SubsampledDilatedConv2d
        elif type(module) is nn.Conv2d and _slow_in_onednn(module):
            module.__class__ = DepthwiseConv2d
        elif type(module) is nn.BatchNorm2d and module.num_features % _VECTOR_WIDTH:
            module.__class__ = ChannelsLastBatchNorm2d
    return model


@contextlib.contextmanager
def plain_modules(model: nn.Module):
    """Within the block, the modules `speed_up` swapped run as nn.Conv2d / nn.BatchNorm2d again: for
    double backward (the Hessian), which the faster BatchNorm's hand-written backward does not support."""
    swapped = [(m, m.__class__) for m in model.modules()
               if isinstance(m, (SubsampledDilatedConv2d, DepthwiseConv2d, ChannelsLastBatchNorm2d))]
    for module, cls in swapped:
        module.__class__ = cls.__mro__[1]
    try:
        yield model
    finally:
        for module, cls in swapped:
            module.__class__ = cls
