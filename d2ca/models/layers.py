"""Building blocks shared by the D2CA networks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class StackedBatchNorm2d(nn.BatchNorm2d):
    """Batch norm that can take several passes stacked on the batch axis (:func:`stacked`).

    With ``passes = n`` the batch is ``n`` equal slices, each normalised by its own
    statistics and each updating the running statistics in turn, exactly as ``n`` separate
    calls would. The state dict is ``nn.BatchNorm2d``'s.
    """

    passes = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.passes == 1:
            return super().forward(x)
        return torch.cat([super(StackedBatchNorm2d, self).forward(c) for c in x.chunk(self.passes)])


@contextmanager
def stacked(passes: int, *modules: nn.Module) -> Iterator[None]:
    """Inside the block, ``modules`` run ``passes`` inputs concatenated on the batch axis as
    one call that equals ``passes`` separate calls: every layer but batch norm is per
    sample, and batch norm (:class:`StackedBatchNorm2d`) normalises each slice alone. One
    call instead of several launches a fraction of the kernels (docs/performance.md)."""
    norms = [m for mod in modules for m in mod.modules() if isinstance(m, StackedBatchNorm2d)]
    for m in norms:
        m.passes = passes
    try:
        yield
    finally:
        for m in norms:
            m.passes = 1


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
    kind = nn.modules.batchnorm._BatchNorm
    norms = [m for mod in modules for m in mod.modules() if isinstance(m, kind)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
