"""Building blocks shared by the D2CA networks."""

from __future__ import annotations

from torch import nn


def conv_block(c_in: int, c_out: int, stride: int = 1, norm: bool = True) -> nn.Sequential:
    """3x3 convolution, optional batch norm, LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)
