"""The D2CA module: all networks of the method under one ``nn.Module`` (one state dict)."""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import torch
from torch import nn

from d2ca.config import D2CAConfig
from d2ca.models.networks import (
    AUClassifier,
    Decoder,
    Encoder,
    MultiScaleDiscriminator,
    ProjectionHead,
)

Domain = Literal["source", "target"]


class D2CAModel(nn.Module):
    """E_au, E_dm^s, E_dm^t, C, G, D_s, D_t and P (notation of the paper, Section III).

    Inputs are normalised images in [-1, 1] (see :func:`to_model_input`).

    Example:
        >>> cfg = D2CAConfig(image_size=64)
        >>> model = D2CAModel(cfg).eval()
        >>> x = torch.zeros(2, 3, 64, 64)
        >>> a, d = model.encode_au(x), model.encode_dm(x, "target")
        >>> model.decode(a, d).shape, model.classify(a).shape
        (torch.Size([2, 3, 64, 64]), torch.Size([2, 12]))
    """

    def __init__(self, config: D2CAConfig) -> None:
        super().__init__()
        self.config = config
        self.e_au = Encoder(config)
        self.e_dm_s = Encoder(config)
        self.e_dm_t = Encoder(config)
        self.classifier = AUClassifier(config)
        self.decoder = Decoder(config)
        self.disc_s = MultiScaleDiscriminator(config)
        self.disc_t = MultiScaleDiscriminator(config)
        self.proj = ProjectionHead(config)

    def encode_au(self, x: torch.Tensor) -> torch.Tensor:
        """``a = E_au(x)``: ``(B,3,S,S) -> (B,C,S/16,S/16)``."""
        return self.e_au(x)

    def encode_dm(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        """``d = E_dm^s(x)`` or ``E_dm^t(x)``: the private encoder of ``domain``."""
        if domain == "source":
            return self.e_dm_s(x)
        if domain == "target":
            return self.e_dm_t(x)
        raise ValueError(f"domain must be 'source' or 'target', got {domain!r}")

    def decode(self, a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """``G([a, d])``: a face in [-1, 1] with a's AUs and d's domain."""
        return self.decoder(a, d)

    def classify(self, a: torch.Tensor) -> torch.Tensor:
        """``C(a)``: AU logits ``(B, A)``."""
        return self.classifier(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """AU logits of normalised faces: ``C(E_au(x))``."""
        return self.classify(self.encode_au(x))

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [*self.disc_s.parameters(), *self.disc_t.parameters()]


def to_model_input(images: np.ndarray | torch.Tensor, config: D2CAConfig) -> torch.Tensor:
    """RGB images -> normalised float tensor ``(B, 3, S, S)``.

    Accepts uint8 (0-255) or float (0-1) arrays/tensors, NHWC or NCHW, or a single HWC/CHW
    image. Resizing is not done here: inputs must already be ``image_size`` square crops.
    """
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4:
        raise ValueError(f"expected images of 3 or 4 dimensions, got shape {tuple(x.shape)}")
    if x.shape[1] != config.in_channels and x.shape[-1] == config.in_channels:
        x = x.permute(0, 3, 1, 2)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.shape[-1] != config.image_size or x.shape[-2] != config.image_size:
        raise ValueError(
            f"expected {config.image_size}x{config.image_size} crops, got {tuple(x.shape[-2:])}"
        )
    mean, std = _mean_std(config.mean, config.std, x.device)
    return (x - mean) / std


@functools.lru_cache(maxsize=16)
def _mean_std(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel mean and std as ``(1, C, 1, 1)`` tensors on ``device``, made once: a
    tensor made from Python numbers on a GPU is a copy from pageable memory, which waits for
    the GPU to finish its queue (four such waits a D2CA training step, one per tensor).
    Made outside inference mode, so that training may use the ones inference made."""
    with torch.inference_mode(False):
        return tuple(torch.tensor(v, device=device).view(1, -1, 1, 1) for v in (mean, std))


def to_uint8_images(x: torch.Tensor, config: D2CAConfig) -> np.ndarray:
    """Inverse of :func:`to_model_input`: ``(B,3,S,S)`` -> uint8 NHWC numpy array."""
    mean, std = _mean_std(config.mean, config.std, x.device)
    rgb = (x.detach().float() * std + mean).clamp(0, 1)
    return (rgb * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
