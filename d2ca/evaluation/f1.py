"""Per-AU F1 (the paper's metric), and the AU predictions and F1 of a model on a manifest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from d2ca.data.dataset import ManifestDataset
from d2ca.data.manifest import Manifest
from d2ca.errors import InputError
from d2ca.models import D2CAModel


def f1_per_au(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """F1 = 2PR / (P + R) of each AU column, ignoring unknown labels (-1).

    Args:
        pred: ``(n, A)`` binary predictions (0 / 1).
        labels: ``(n, A)`` ground truth in {1, 0, -1}.

    Returns:
        ``(A,)`` float array; an AU with no positive label and no positive prediction has
        F1 0 (the convention of the AU literature: it contributes nothing).

    >>> f1_per_au(np.array([[1], [1], [0]]), np.array([[1], [0], [1]]))
    array([0.5])
    """
    pred = np.asarray(pred).astype(bool)
    labels = np.asarray(labels)
    if pred.shape != labels.shape:
        raise ValueError(f"predictions {pred.shape} and labels {labels.shape} differ in shape")
    known = labels >= 0
    pos = labels == 1
    tp = (pred & pos & known).sum(0)
    fp = (pred & ~pos & known).sum(0)
    fn = (~pred & pos & known).sum(0)
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0).astype(np.float64)


@torch.no_grad()
def predict(
    model: D2CAModel,
    manifest: Manifest,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
) -> np.ndarray:
    """AU probabilities ``(n, A)`` for every face of ``manifest``, in the model's AU order."""
    was_training = model.training
    model.eval()
    loader = DataLoader(
        ManifestDataset(manifest, model.config), batch_size=batch_size, num_workers=num_workers
    )
    out = [torch.sigmoid(model(b["image"].to(device))).cpu() for b in loader]
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, model.config.num_aus), np.float32)


def evaluate(
    model: D2CAModel,
    manifest: Manifest,
    *,
    au_names: Sequence[str] | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    thresholds: Sequence[float] | None = None,
) -> dict:
    """Per-AU F1 and their average on the AUs the model and manifest share.

    Args:
        au_names: AUs to score (default: those in both the model and the manifest).
        thresholds: per-model-AU decision thresholds (default ``config.thresholds``).

    Returns:
        ``{"f1": {AU: F1}, "avg_f1": mean, "n": faces}`` (F1 in [0, 1]).
    """
    names = list(au_names or [a for a in model.config.au_names if a in manifest.au_names])
    unknown = [a for a in names if a not in model.config.au_names]
    if not names or unknown:
        raise InputError(
            f"no AUs to evaluate: the model predicts {', '.join(model.config.au_names)}; "
            f"the data has {', '.join(manifest.au_names)}"
        )
    probs = predict(model, manifest, batch_size=batch_size, device=device)
    cols = [model.config.au_names.index(a) for a in names]
    thr = np.asarray(thresholds or model.config.thresholds)[cols]
    pred = probs[:, cols] >= thr
    f1 = f1_per_au(pred, manifest.with_aus(names).labels)
    return {
        "f1": dict(zip(names, f1.tolist(), strict=True)),
        "avg_f1": float(f1.mean()),
        "n": len(manifest),
    }
