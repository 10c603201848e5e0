"""The D2CA networks (paper Section IV, Figs. 5-7): pure modules, tensors in, tensors out.

Shapes below are for the default config (128x128 input, features at 8x8, A = 12 AUs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from d2ca.config import D2CAConfig
from d2ca.models.layers import conv_block, memory_format_of


class Encoder(nn.Module):
    """Eight convolutional layers; the structure of E_au, E_dm^s and E_dm^t (Fig. 5).

    ``(B, 3, 128, 128) -> (B, 128, 8, 8)``.
    """

    def __init__(self, config: D2CAConfig) -> None:
        super().__init__()
        layers = []
        c_in = config.in_channels
        for width, stride in zip(config.enc_widths, config.enc_strides, strict=True):
            layers.append(conv_block(c_in, width, stride))
            c_in = width
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class AUClassifier(nn.Module):
    """C: multi-label AU logits from AU features, ``(B, 128, 8, 8) -> (B, A)``.

    A strided convolution keeps the spatial layout (AUs are local) before a linear layer.
    """

    def __init__(self, config: D2CAConfig) -> None:
        super().__init__()
        hidden = config.au_channels // 2
        side = -(-config.feature_size // 2)  # the stride-2 conv rounds up (1 -> 1, 3 -> 2)
        self.conv = conv_block(config.au_channels, hidden, stride=2)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(hidden * side * side, config.num_aus)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.conv(a).flatten(1)))


def bilinear_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """``U`` with ``U @ x @ U.T == F.interpolate(x, size=(n_out, n_out), mode="bilinear")``.

    ``(n_out, n_in)``, ``align_corners=False`` as ``F.interpolate``. As two small matmuls the
    resize runs on the matrix units in both directions; ``F.interpolate``'s backward pass
    scatters with atomic adds: 19% of a bf16 training step's GPU time on an H200, and 1.8x
    the matmul form's time on a CPU (``benchmarks/decoder_resize.py``, docs/performance.md).
    """
    # on the CPU even inside ``torch.device("meta")`` (hub.py's shape check), where building
    # it through meta decompositions would import torch._dynamo: 2 s to a first row
    cpu = torch.device("cpu")
    src = (torch.arange(n_out, dtype=torch.float64, device=cpu) + 0.5) * (n_in / n_out) - 0.5
    src = src.clamp(min=0)
    lo = src.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    rows = torch.arange(n_out, device=cpu)
    u = torch.zeros(n_out, n_in, dtype=torch.float64, device=cpu)
    u.index_put_((rows, lo), 1 - (src - lo), accumulate=True)
    u.index_put_((rows, hi), src - lo, accumulate=True)
    return u.float()


class Decoder(nn.Module):
    """G: seven conv layers over ``[a, d]`` with an auxiliary branch re-injecting ``d`` (Fig. 7).

    The auxiliary branch projects ``d`` (``[a, d]`` with ``dec_aux_au``) to a few channels and
    concatenates it, bilinearly resized (:func:`bilinear_matrix`), before every layer that
    follows an upsampling.
    ``(B,128,8,8), (B,128,8,8) -> (B,3,128,128)`` in [-1, 1].
    """

    UPSAMPLE_BEFORE = (1, 2, 4, 5)  # layer indices (0-based) preceded by a 2x upsampling

    def __init__(self, config: D2CAConfig) -> None:
        super().__init__()
        w = config.dec_widths
        aux = config.dec_aux_channels
        self.aux_au = config.dec_aux_au
        aux_in = config.dm_channels + (config.au_channels if self.aux_au else 0)
        self.aux = nn.ModuleList(nn.Conv2d(aux_in, aux, 1) for _ in self.UPSAMPLE_BEFORE)
        c_in = config.au_channels + config.dm_channels
        layers = []
        for i, width in enumerate(w):
            extra = aux if i in self.UPSAMPLE_BEFORE else 0
            layers.append(conv_block(c_in + extra, width))
            c_in = width
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.Conv2d(c_in, config.in_channels, 3, padding=1)  # layer 7
        side = config.feature_size
        for k in range(len(self.UPSAMPLE_BEFORE)):  # resize matrices, not in the state dict
            up = bilinear_matrix(side, side * 2 ** (k + 1))
            self.register_buffer(f"resize{k}", up, persistent=False)

    def forward(self, a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        h = torch.cat([a, d], dim=1)
        side = h if self.aux_au else d  # what the auxiliary branch re-injects
        fmt = memory_format_of(h)  # d's resized maps keep h's layout
        k = 0
        for i, layer in enumerate(self.layers):
            if i in self.UPSAMPLE_BEFORE:
                # nearest is exact in any dtype; CUDA autocast would run it, and the
                # concatenation after it, in float32 (an H200 profile of a bf16 step)
                with torch.autocast(h.device.type, enabled=False):
                    h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                up = getattr(self, f"resize{k}")
                d_i = (up @ self.aux[k](side) @ up.T).contiguous(memory_format=fmt)
                h = torch.cat([h, d_i], dim=1)
                k += 1
            h = layer(h)
        return torch.tanh(self.to_rgb(h))


class PatchDiscriminator(nn.Module):
    """One PatchGAN: 4x4 strided convs to a map of real/fake logits."""

    def __init__(self, config: D2CAConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = config.in_channels
        for i, width in enumerate(config.disc_widths):
            layers.append(nn.Conv2d(c_in, width, 4, stride=2, padding=1))
            if i > 0:
                layers.append(nn.InstanceNorm2d(width, affine=True))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = width
        layers.append(nn.Conv2d(c_in, 1, 3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MultiScaleDiscriminator(nn.Module):
    """D_s / D_t: PatchGANs on the image and on 2x, 4x... downsampled copies (Fig. 6).

    Returns one logit map per scale: ``[(B,1,16,16), (B,1,8,8)]`` at the default config.
    """

    def __init__(self, config: D2CAConfig) -> None:
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(config) for _ in range(config.disc_scales))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out


class ProjectionHead(nn.Module):
    """P: ICL embedding of ``[a, d]``: pooled, concatenated, two FC layers, L2-normalised.

    ``(B,128,8,8), (B,128,8,8) -> (B, proj_dim)`` with unit norm rows.
    """

    def __init__(self, config: D2CAConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(config.au_channels + config.dm_channels, config.proj_hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.proj_hidden, config.proj_dim),
        )

    def forward(self, a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        h = torch.cat([a.mean(dim=(2, 3)), d.mean(dim=(2, 3))], dim=1)
        return F.normalize(self.net(h), dim=1)
