"""Fréchet distance between image sets (FID, the paper's Table IX) with a pluggable extractor.

Two extractors:

* :class:`InceptionExtractor`: torchvision's Inception-v3 pool features (2048-d), from a
  weights file the user supplies (safetensors only: nothing is unpickled, nothing is
  downloaded). This is the usual FID network; torchvision's ImageNet weights are not the
  TF-ported weights of pytorch-fid, so values are close to, not equal to, published FID.
* :class:`RandomConvExtractor`: a fixed-seed random convolutional network that needs no
  weights. It ranks image sets consistently on one machine but its values are **not
  comparable with published FID**.

Example:
    >>> import numpy as np
    >>> a = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    >>> abs(fid(a, a, RandomConvExtractor())) < 1e-6
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from d2ca.data.media import IMAGE_EXTENSIONS, read_image
from d2ca.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½), the distance of two Gaussians (FID)."""
    from scipy import linalg

    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # singular product: regularise as pytorch-fid does
        eps = np.eye(len(sigma1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + eps) @ (sigma2 + eps))
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance of the Gaussians fitted to two ``(n, d)`` feature sets.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> f = rng.normal(size=(500, 3))
        >>> round(fid_from_features(f, f + 2.0), 3)  # a shift of 2 on 3 axes: 3 * 2**2
        12.0
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("FID needs at least two images per set")
    if min(len(a), len(b)) <= a.shape[1]:
        return _low_rank_fid(a, b)
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def _low_rank_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID when a set has no more samples than dimensions (singular covariances).

    With centred data ``A``, ``B`` and ``S_a = AᵀA / (n_a - 1)``, the non-zero eigenvalues of
    ``S_a S_b`` are the squared singular values of ``A Bᵀ`` over ``(n_a - 1)(n_b - 1)``, so
    ``Tr (S_a S_b)^½`` is their sum: exact, and an ``n_a x n_b`` SVD instead of scipy's
    ``sqrtm`` of a singular ``d x d`` matrix (slow and inaccurate).
    """
    ca, cb = a - a.mean(0), b - b.mean(0)
    scale = np.sqrt((len(a) - 1) * (len(b) - 1))
    cross = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / scale
    diff = a.mean(0) - b.mean(0)
    traces = (ca**2).sum() / (len(a) - 1) + (cb**2).sum() / (len(b) - 1)
    return float(diff @ diff + traces - 2 * cross)


def to_unit_batch(images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` RGB (array or list of equal-size arrays) -> ``N x 3 x H x W``
    float in [0, 1]."""
    array = np.stack(list(images)) if not isinstance(images, np.ndarray) else images
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise InputError(
            f"expected N x H x W x 3 uint8 RGB images, got {array.shape} {array.dtype}"
        )
    return torch.from_numpy(array).permute(0, 3, 1, 2).float() / 255.0


class RandomConvExtractor(nn.Module):
    """Features of a fixed-seed random conv network (no weights file; offline).

    Images are resized to 128 x 128; five stride-2 3x3 convolutions with ReLU, then the
    mean and standard deviation of each of the 256 last channels: 512-d features. The
    weights depend only on ``seed``. Values are not comparable with published FID.
    """

    def __init__(self, seed: int = 0, size: int = 128) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        widths = (3, 32, 64, 128, 256, 256)
        layers: list[nn.Module] = []
        for cin, cout in zip(widths, widths[1:], strict=False):
            conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
            with torch.no_grad():
                conv.weight.copy_(
                    torch.randn(conv.weight.shape, generator=g) * (2 / (9 * cin)) ** 0.5
                )
                conv.bias.zero_()
            layers += [conv, nn.ReLU()]
        self.net = nn.Sequential(*layers).requires_grad_(False).eval()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``N x 3 x H x W`` in [0, 1] -> ``N x 512``."""
        x = nn.functional.interpolate(
            x, size=(self.size, self.size), mode="bilinear", antialias=True
        )
        h = self.net(x * 2 - 1).flatten(2)
        return torch.cat([h.mean(-1), h.std(-1)], dim=1)


class InceptionExtractor(nn.Module):
    """torchvision Inception-v3 pool features (2048-d) from a safetensors weights file.

    Args:
        weights: a ``.safetensors`` file of torchvision's ``inception_v3`` state dict (with
            or without the ``AuxLogits`` branch). See ``docs/datasets.md`` for making one.

    Raises:
        InputError: the file is missing, is not safetensors, or does not match the network.
    """

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        from safetensors.torch import load_file
        from torchvision.models import inception_v3

        path = Path(weights)
        if not path.is_file():
            raise InputError(
                f"{path}: no Inception weights file; FID with Inception needs torchvision's "
                "inception_v3 weights as safetensors (see docs/datasets.md), or use "
                "--extractor random (values not comparable with published FID)"
            )
        if path.suffix != ".safetensors":
            raise InputError(
                f"{path}: only .safetensors weights are read (pickled .pth files are not "
                "loaded); convert them as docs/datasets.md shows"
            )
        try:
            state = load_file(str(path))
        except Exception as e:  # safetensors raises its own error types
            raise InputError(f"{path}: not a readable safetensors file: {e}") from None
        aux = any(k.startswith("AuxLogits.") for k in state)
        net = inception_v3(weights=None, aux_logits=aux, init_weights=False, transform_input=True)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()[1].strip() if "\n" in str(e) else str(e)
            raise InputError(f"{path}: not torchvision inception_v3 weights: {first}") from None
        net.fc = nn.Identity()
        net.AuxLogits = None
        self.net = net.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``N x 3 x H x W`` in [0, 1] -> ``N x 2048``."""
        x = nn.functional.interpolate(x, size=(299, 299), mode="bilinear", antialias=True)
        return self.net((x - self.mean) / self.std)


def load_extractor(name: str = "random", weights: str | Path | None = None) -> nn.Module:
    """``"inception"`` (needs ``weights``) or ``"random"``.

    >>> load_extractor("random").size
    128
    """
    if name == "inception":
        if weights is None:
            raise InputError("--extractor inception needs --inception-weights PATH (safetensors)")
        return InceptionExtractor(weights)
    if name == "random":
        return RandomConvExtractor()
    raise InputError(f"unknown feature extractor {name!r}; use inception or random")


@torch.no_grad()
def image_features(
    images: np.ndarray | Sequence[np.ndarray], extractor: nn.Module, *, batch_size: int = 50
) -> np.ndarray:
    """``(n, d)`` features of uint8 RGB images, computed in batches."""
    x = to_unit_batch(images)
    device = next(extractor.parameters()).device
    chunks = [
        extractor(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)
    ]
    return torch.cat(chunks).double().numpy()


def fid(
    images_a: np.ndarray | Sequence[np.ndarray],
    images_b: np.ndarray | Sequence[np.ndarray],
    extractor: nn.Module,
    *,
    batch_size: int = 50,
) -> float:
    """FID between two sets of uint8 RGB images under ``extractor``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
        >>> fid(a, 255 - a, RandomConvExtractor()) > 0
        True
    """
    return fid_from_features(
        image_features(images_a, extractor, batch_size=batch_size),
        image_features(images_b, extractor, batch_size=batch_size),
    )


def load_images(
    folder: str | Path, limit: int | None = None, size: int | None = None
) -> np.ndarray:
    """The first ``limit`` images (sorted paths, recursive) of a folder as uint8 RGB, resized
    to ``size`` x ``size`` when given (FID needs one size per set)."""
    import cv2

    folder = Path(folder)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise InputError(f"{folder}: no images")
    out = []
    for p in paths[:limit]:
        image = read_image(p)  # InputError naming the file when unreadable
        if size is not None:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        out.append(image)
    shapes = {o.shape for o in out}
    if len(shapes) > 1:
        raise InputError(f"{folder}: images differ in size {sorted(shapes)[:2]}; pass a size")
    return np.stack(out)
