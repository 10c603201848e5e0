"""AU predictions and per-AU F1 of a model on a manifest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from d2ca.data.dataset import ManifestDataset
from d2ca.data.manifest import Manifest
from d2ca.errors import InputError
from d2ca.metrics import f1_per_au
from d2ca.models import D2CAModel


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
