"""t-SNE of AU features across domains (the paper's Fig. 12).

Needs the ``plot`` extra: ``pip install 'd2ca[plot]'`` (matplotlib, scikit-learn).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from d2ca.aus import au_name
from d2ca.data.dataset import ManifestDataset
from d2ca.data.manifest import Manifest
from d2ca.errors import InputError
from d2ca.io import atomic_path
from d2ca.models import D2CAModel

MARKERS = ("o", "^", "s", "D", "v")


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{module} is not installed: pip install 'd2ca[plot]'") from None


@torch.no_grad()
def au_features(
    model: D2CAModel, manifest: Manifest, *, batch_size: int = 64, device: str = "cpu"
) -> np.ndarray:
    """Flattened AU features ``a = E_au(x)``: ``(n, au_channels * f * f)``."""
    model.eval()
    loader = DataLoader(ManifestDataset(manifest, model.config), batch_size=batch_size)
    out = [model.encode_au(b["image"].to(device)).flatten(1).cpu() for b in loader]
    return torch.cat(out).numpy()


def sample_rows(manifest: Manifest, limit: int, seed: int = 0) -> Manifest:
    """At most ``limit`` rows, drawn without replacement with a fixed seed, in file order."""
    if len(manifest) <= limit:
        return manifest
    keep = np.zeros(len(manifest), dtype=bool)
    keep[np.random.default_rng(seed).choice(len(manifest), limit, replace=False)] = True
    return manifest.select(keep)


def tsne_embedding(features: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """2-d t-SNE (scikit-learn) of features, after PCA to 50 dimensions when wider.

    >>> tsne_embedding(np.random.default_rng(0).normal(size=(20, 8))).shape
    (20, 2)
    """
    manifold = _require("sklearn.manifold")
    decomposition = _require("sklearn.decomposition")
    x = np.asarray(features, np.float64)
    if len(x) < 4:
        raise InputError(f"t-SNE needs at least 4 faces, got {len(x)}")
    if x.shape[1] > 50 and len(x) > 50:
        x = decomposition.PCA(50, random_state=seed).fit_transform(x)
    perplexity = float(min(30, (len(x) - 1) / 3))
    tsne = manifold.TSNE(2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(x)


def plot_tsne(
    model: D2CAModel,
    domains: Sequence[tuple[str, Manifest]],
    au: int,
    out: str | Path,
    *,
    per_domain: int = 500,
    seed: int = 0,
    device: str = "cpu",
    overwrite: bool = False,
) -> Path:
    """Write a t-SNE scatter of AU features: colour = the AU's label, marker = domain.

    Args:
        model: a D2CA model (its ``E_au`` is used).
        domains: ``(name, manifest)`` pairs, e.g. ``[("BP4D", m1), ("DISFA", m2)]``.
        au: the AU whose label colours the points (every manifest needs its column).
        out: PNG path (written atomically).
        per_domain: faces drawn per domain (fixed seed).

    Example:
        >>> plot_tsne(model, [("BP4D", bp4d), ("DISFA", disfa)], 6, "tsne.png")  # doctest: +SKIP
    """
    _require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = au_name(au)
    feats, labels, domain_ids = [], [], []
    for i, (domain, manifest) in enumerate(domains):
        if name not in manifest.au_names:
            raise InputError(
                f"{domain}: the data has no {name} column ({', '.join(manifest.au_names)})"
            )
        part = sample_rows(manifest, per_domain, seed)
        feats.append(au_features(model, part, device=device))
        labels.append(part.with_aus([name]).labels[:, 0])
        domain_ids.append(np.full(len(part), i))
    xy = tsne_embedding(np.concatenate(feats), seed=seed)
    label, domain_id = np.concatenate(labels), np.concatenate(domain_ids)

    fig, ax = plt.subplots(figsize=(5, 5))
    colours = {1: ("tab:red", f"{name} present"), 0: ("tab:blue", f"{name} absent"),
               -1: ("lightgrey", "unknown")}  # fmt: skip
    for i, (domain, _) in enumerate(domains):
        for value, (colour, text) in colours.items():
            sel = (domain_id == i) & (label == value)
            if sel.any():
                ax.scatter(*xy[sel].T, s=8, c=colour, marker=MARKERS[i % len(MARKERS)],
                           label=f"{domain}: {text}", alpha=0.7)  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"t-SNE of AU features, coloured by {name}")
    ax.legend(fontsize=7, markerscale=1.5)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=150, format="png")
    plt.close(fig)
    return out
