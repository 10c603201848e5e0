"""Figures: t-SNE of AU features across domains (the paper's Fig. 12), a run's curves.

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


def read_metrics(run: str | Path) -> list[dict]:
    """The records of ``RUN/metrics.jsonl`` (train, eval and diagnostics lines)."""
    import json

    path = Path(run) / "metrics.jsonl"
    if not path.is_file():
        raise InputError(f"{run} holds no metrics.jsonl: not a training run folder")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not JSON lines: {e}") from None


def plot_run(run: str | Path, out: str | Path, *, overwrite: bool = False) -> Path:
    """Draw a training run's curves to a PNG: loss terms, F1, and the diagnostics.

    Panels: the logged loss terms (log scale); average F1 on the target test and source
    validation splits; each term's gradient norm on ``E_au`` (log scale); the spread of the
    features and of the classifier's outputs across the batch (docs/training.md,
    "Diagnostics"). Panels without data (e.g. diagnostics off) say so.

    Example:
        >>> plot_run("runs/lab-b-lab-a", "curves.png")  # doctest: +SKIP
    """
    _require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run)
    by_kind: dict[str, list[dict]] = {}
    for r in records:
        by_kind.setdefault(r.get("kind", ""), []).append(r)
    if not by_kind.get("train"):
        raise InputError(f"{run}/metrics.jsonl has no train lines yet")

    def series(rows: list[dict], get) -> dict[str, tuple[list, list]]:
        out: dict[str, tuple[list, list]] = {}
        for r in rows:
            for k, v in get(r).items():
                if v is not None:
                    xs, ys = out.setdefault(k, ([], []))
                    xs.append(r["step"])
                    ys.append(v)
        return out

    skip = {"deco", "total", "disc_s", "disc_t"}
    panels = [
        ("loss terms (unweighted)", True,
         series(by_kind["train"], lambda r: {k: v for k, v in r["loss"].items() if k not in skip})),
        ("average F1", False,
         series(by_kind.get("eval", []), lambda r: {k: r[k]["avg_f1"] for k in
                                                    ("target_test", "source_val") if k in r})),
        ("gradient norm on E_au, per weighted term", True,
         series(by_kind.get("diagnostics", []), lambda r: r["grad_norm"].get("e_au", {}))),
        ("spread across the batch (a, d, sigmoid outputs p)", False,
         series(by_kind.get("diagnostics", []), lambda r: r["spread"])),
    ]  # fmt: skip
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (title, log, data) in zip(axes.flat, panels, strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if not data:
            ax.text(0.5, 0.5, "not logged in this run", ha="center", transform=ax.transAxes)
            continue
        for name, (xs, ys) in data.items():
            xs, ys = np.asarray(xs), np.asarray(ys, dtype=float)
            if log:  # a term that does not reach E_au (norm 0) has no place on a log axis
                xs, ys = xs[ys > 0], ys[ys > 0]
            ax.plot(xs, ys, label=name, lw=1.2, marker="." if len(xs) < 30 else None)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    fig.suptitle(str(run), fontsize=9)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out
