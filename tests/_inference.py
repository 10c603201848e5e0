"""Helpers shared by the inference tests: a tiny checkpoint and a video of a real face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch

from d2ca.config import D2CAConfig
from d2ca.hub import save_pretrained
from d2ca.models import D2CAModel

BLANK_FRAMES = (5, 6)


def small_config() -> D2CAConfig:
    """A 64 x 64 model with narrow layers: about 0.13 M parameters, milliseconds per face."""
    return D2CAConfig(
        image_size=64,
        enc_widths=(8, 8, 16, 16, 16, 16, 32, 32),
        dec_widths=(32, 16, 16, 8, 8, 8),
        dec_aux_channels=4,
        disc_widths=(8, 16, 16),
        proj_hidden=32,
        proj_dim=16,
    )


def small_model(seed: int = 0) -> D2CAModel:
    torch.manual_seed(seed)
    return D2CAModel(small_config()).eval()


def save_small_checkpoint(folder: Path, seed: int = 0) -> Path:
    return save_pretrained(small_model(seed), folder)


def write_astronaut_video(path: Path, frames: int = 12, fps: float = 10.0) -> Path:
    """320 x 240 mp4v video of the astronaut sliding right; frames 5 and 6 are black."""
    face = cv2.resize(skimage.data.astronaut(), (240, 240))[..., ::-1]  # BGR for OpenCV
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    for i in range(frames):
        frame = np.zeros((240, 320, 3), np.uint8)
        if i not in BLANK_FRAMES:
            frame[:, 5 * i : 5 * i + 240] = face
        writer.write(frame)
    writer.release()
    return path
