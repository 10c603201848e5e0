"""Figures: t-SNE of AU features across domains (the paper's Fig. 12), AU swap grids, the
adaptation report's base rates and probability histograms, and a training run's curves.

The matplotlib figures need the ``plot`` extra: ``pip install 'd2ca[plot]'`` (matplotlib,
scikit-learn); the swap grid needs only Pillow.
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
from d2ca.models import D2CAModel, to_uint8_images

MARKERS = ("o", "^", "s", "D", "v")
CELL = 128  # displayed side of one face in a picture sheet, pixels
HEADER = 22
SWAP_HEADERS = ("Is", "It", "Is→t", "It→s", "Îs", "Ît")


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
    plt = _pyplot()
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
    return save_figure(fig, out, overwrite=overwrite)


def _pyplot():
    _require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write a matplotlib figure as PNG, atomically, and close it."""
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=150, format="png")
    _pyplot().close(fig)
    return out


def plot_base_rates(
    rates: dict[str, np.ndarray], au_names: Sequence[str], out: str | Path, *, title: str,
    overwrite: bool = False,
) -> Path:  # fmt: skip
    """Grouped bars: one bar per series (e.g. source labels, start, adapted) per AU, in %."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(au_names) * len(rates) / 2), 3.2))
    width = 0.8 / len(rates)
    x = np.arange(len(au_names))
    for i, (label, values) in enumerate(rates.items()):
        ax.bar(x + (i - (len(rates) - 1) / 2) * width, 100 * np.asarray(values), width,
               label=label)  # fmt: skip
    ax.set_xticks(x, [a.removeprefix("AU") for a in au_names])
    ax.set_xlabel("AU")
    ax.set_ylabel("% of faces")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, out, overwrite=overwrite)


def plot_probabilities(
    probs: dict[str, np.ndarray], au_names: Sequence[str], thresholds: Sequence[float],
    out: str | Path, *, title: str, overwrite: bool = False,
) -> Path:  # fmt: skip
    """Histograms of each AU's probabilities, one outline per series, threshold dashed."""
    plt = _pyplot()
    cols = min(6, len(au_names))
    rows = -(-len(au_names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.5 * rows + 0.4), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for j, ax in enumerate(axes.flat):
        if j >= len(au_names):
            ax.axis("off")
            continue
        for label, p in probs.items():
            ax.hist(p[:, j], bins=bins, histtype="step", label=label)
        ax.axvline(thresholds[j], color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(au_names[j], fontsize=8)
        ax.tick_params(labelsize=6)
    axes.flat[0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, out, overwrite=overwrite)


@torch.no_grad()
def swap_grid(model: D2CAModel, x_s: torch.Tensor, x_t: torch.Tensor) -> np.ndarray:
    """Rows of ``[Is, It, Is→t, It→s, Îs, Ît]`` as uint8 ``(rows, 6, S, S, 3)``.

    ``Is→t = G([a_t, d_s])`` (Eq. 2), ``It→s = G([a_s, d_t])`` (Eq. 3), and the cyclic
    reconstructions ``Îs = G([a_{t→s}, d_{s→t}])``, ``Ît = G([a_{s→t}, d_{t→s}])`` (Eq. 7).
    """
    model.eval()
    a_s, d_s = model.encode_au(x_s), model.encode_dm(x_s, "source")
    a_t, d_t = model.encode_au(x_t), model.encode_dm(x_t, "target")
    x_st, x_ts = model.decode(a_t, d_s), model.decode(a_s, d_t)
    x_s_hat = model.decode(model.encode_au(x_ts), model.encode_dm(x_st, "source"))
    x_t_hat = model.decode(model.encode_au(x_st), model.encode_dm(x_ts, "target"))
    cols = [to_uint8_images(x, model.config) for x in (x_s, x_t, x_st, x_ts, x_s_hat, x_t_hat)]
    return np.stack(cols, axis=1)


def compose(cells: np.ndarray, headers: Sequence[str], row_labels: Sequence[str] | None = None):
    """A labelled PIL sheet from ``(rows, cols, S, S, 3)`` uint8 faces, each ``CELL`` px."""
    from PIL import Image, ImageDraw

    rows, cols = cells.shape[:2]
    left = 70 if row_labels else 0
    sheet = Image.new("RGB", (left + cols * CELL, HEADER + rows * CELL), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(14)
    for c, text in enumerate(headers):
        draw.text((left + c * CELL + CELL // 2, HEADER // 2), text, fill="black", font=font,
                  anchor="mm")  # fmt: skip
    for r in range(rows):
        if row_labels:
            draw.text((left // 2, HEADER + r * CELL + CELL // 2), row_labels[r], fill="black",
                      font=font, anchor="mm")  # fmt: skip
        for c in range(cols):
            face = Image.fromarray(cells[r, c]).resize((CELL, CELL), Image.BICUBIC)
            sheet.paste(face, (left + c * CELL, HEADER + r * CELL))
    return sheet


def _font(size: int):
    """DejaVu Sans where installed (it has the arrow and hat glyphs); else Pillow's default."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


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
    plt = _pyplot()
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
    return save_figure(fig, out, overwrite=overwrite)
