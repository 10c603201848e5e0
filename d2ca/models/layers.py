"""Building blocks shared by the D2CA networks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


def conv_block(c_in: int, c_out: int, stride: int = 1, norm: bool = True) -> nn.Sequential:
    """3x3 convolution, optional batch norm, LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
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
