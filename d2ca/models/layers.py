"""Building blocks shared by the D2CA networks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class _SlicedBatchNorm(torch.autograd.Function):
    """Training-mode batch norm of ``passes`` equal slices of the batch, each by its own
    statistics, the running statistics updated slice after slice: the kernels of separate
    calls, each slice's output and gradient written in place into one tensor (no copies)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        running_mean: torch.Tensor,
        running_var: torch.Tensor,
        passes: int,
        momentum: float,
        eps: float,
    ) -> torch.Tensor:
        y = torch.empty_like(x)
        stats = []
        for x_i, y_i in zip(x.chunk(passes), y.chunk(passes), strict=True):
            mean, invstd = (x.new_empty(x.shape[1], dtype=torch.float) for _ in "mi")
            torch.ops.aten.native_batch_norm.out(
                x_i, weight, bias, running_mean, running_var, True, momentum, eps,
                out=y_i, save_mean=mean, save_invstd=invstd,
            )  # fmt: skip
            stats += [mean, invstd]
        ctx.save_for_backward(x, weight, *stats)
        ctx.passes, ctx.eps = passes, eps
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight, *stats = ctx.saved_tensors
        grad_x = torch.empty_like(x, memory_format=torch.preserve_format)
        grad_wb = weight.new_empty(2, ctx.passes, len(weight))  # per slice, summed below
        slices = zip(grad.chunk(ctx.passes), x.chunk(ctx.passes), grad_x.chunk(ctx.passes),
                     stats[::2], stats[1::2], grad_wb[0], grad_wb[1], strict=True)  # fmt: skip
        for g_i, x_i, gx_i, mean, invstd, gw_i, gb_i in slices:
            torch.ops.aten.native_batch_norm_backward.out(
                g_i.contiguous(memory_format=memory_format_of(x_i)), x_i, weight, None, None, mean,
                invstd, True, ctx.eps, [True, True, True], out0=gx_i, out1=gw_i, out2=gb_i,
            )  # fmt: skip
        grad_w, grad_b = grad_wb.sum(1)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def memory_format_of(x: torch.Tensor) -> torch.memory_format:
    """``torch.channels_last`` for an NHWC-contiguous ``x``, else ``torch.contiguous_format``."""
    nhwc = x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if nhwc else torch.contiguous_format


class StackedBatchNorm2d(nn.BatchNorm2d):
    """Batch norm that can take several passes stacked on the batch axis (:func:`stacked`).

    With ``passes = n`` in training mode the batch is ``n`` equal slices, each normalised by
    its own statistics and each updating the running statistics in turn, exactly as ``n``
    separate calls would, with their kernels. The state dict is ``nn.BatchNorm2d``'s.
    """

    passes = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.passes == 1 or not self.training:
            return super().forward(x)
        return self._sliced(x)

    # Run eagerly inside a compiled network (torch.compile): traced, the out= writes failed in
    # inductor, and two batch-norm calls on the same running statistics in one compiled graph
    # broke the next backward pass ("modified by an inplace operation"); both found on the CPU
    @torch.compiler.disable
    def _sliced(self, x: torch.Tensor) -> torch.Tensor:
        self.num_batches_tracked.add_(self.passes)
        args = (self.running_mean, self.running_var, self.passes, self.momentum, self.eps)
        return _SlicedBatchNorm.apply(x, self.weight, self.bias, *args)


def _norms(modules: tuple[nn.Module, ...], kind: type) -> list[nn.Module]:
    return [m for mod in modules for m in mod.modules() if isinstance(m, kind)]


@contextmanager
def _set(modules: list[nn.Module], name: str, value: Any) -> Iterator[None]:
    """``module.name = value`` for each of ``modules`` inside the block, restored after it."""
    saved = [getattr(m, name) for m in modules]
    for m in modules:
        setattr(m, name, value)
    try:
        yield
    finally:
        for m, old in zip(modules, saved, strict=True):
            setattr(m, name, old)


@contextmanager
def stacked(passes: int, *modules: nn.Module) -> Iterator[None]:
    """Inside the block, ``modules`` run ``passes`` inputs concatenated on the batch axis as
    one call that equals ``passes`` separate calls: every layer but batch norm is per
    sample, and batch norm (:class:`StackedBatchNorm2d`) normalises each slice alone. One
    call instead of several launches a fraction of the kernels (docs/performance.md)."""
    norms = _norms(modules, StackedBatchNorm2d)
    if any(m.momentum is None for m in norms):
        raise ValueError("stacked passes need a batch norm momentum (None: a cumulative mean)")
    with _set(norms, "passes", passes):
        yield


def conv_block(c_in: int, c_out: int, stride: int = 1, norm: bool = True) -> nn.Sequential:
    """3x3 convolution, optional batch norm, LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not norm)]
    if norm:
        layers.append(StackedBatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


@contextmanager
def frozen_norm_stats(*modules: nn.Module) -> Iterator[None]:
    """Batch norm of ``modules`` still normalises by the batch in train mode, but its running
    statistics (used in eval mode) are left unchanged inside the block."""
    # running = (1 - 0) * running + 0 * batch
    with _set(_norms(modules, nn.modules.batchnorm._BatchNorm), "momentum", 0.0):
        yield
