"""Evaluation measures: per-AU F1 (the paper's metric) and the Fréchet distance behind FID."""

from __future__ import annotations

import numpy as np


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
