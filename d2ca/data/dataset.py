"""Torch datasets over manifests."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from d2ca.config import D2CAConfig
from d2ca.data.manifest import Manifest, ManifestError


class ManifestDataset(Dataset):
    """Face crops of a manifest as normalised tensors.

    Items are dicts: ``image`` ``(3, S, S)`` float in [-1, 1] (``config.mean`` / ``std``),
    ``labels`` ``(A,)`` float in {1, 0, -1}, ``subject`` (int index into :attr:`subjects`),
    ``index`` (row). Crops of another size are resized (bilinear).
    """

    def __init__(self, manifest: Manifest, config: D2CAConfig) -> None:
        self.manifest = manifest
        self.config = config
        self.subjects = sorted(set(manifest.subjects))
        lookup = {s: i for i, s in enumerate(self.subjects)}
        self.subject_ids = np.array([lookup[s] for s in manifest.subjects], dtype=np.int64)
        self.mean = torch.tensor(config.mean).view(-1, 1, 1)
        self.std = torch.tensor(config.std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.manifest)

    def load_image(self, i: int) -> np.ndarray:
        path = self.manifest.image_path(i)
        size = self.config.image_size
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                if im.size != (size, size):
                    im = im.resize((size, size), Image.BILINEAR)
                return np.array(im)  # writable: torch.from_numpy warns otherwise
        except (OSError, ValueError) as e:
            raise ManifestError(f"{path}: cannot read image ({e})") from None

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        rgb = torch.from_numpy(self.load_image(i)).permute(2, 0, 1).float() / 255.0
        return {
            "image": (rgb - self.mean) / self.std,
            "labels": torch.from_numpy(self.manifest.labels[i].astype(np.float32)),
            "subject": int(self.subject_ids[i]),
            "index": i,
        }
