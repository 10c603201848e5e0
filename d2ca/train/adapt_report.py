"""What an adaptation changed on the target, measured without target labels.

``adaptation_report`` compares the model training started from with the adapted one on
the target faces and writes ``report.md`` with its figures:

- per-AU predicted base rates on the target (threshold of each model's config), beside the
  source's label rates: ``base_rates.png``;
- the distribution of the AU probabilities on the target: ``probabilities.png``;
- a t-SNE of AU features of source and target faces, before and after (the paper's
  Fig. 12): ``tsne_start.png``, ``tsne_adapted.png``;
- swap grids of the adapted model (and the start): target faces carrying source AUs,
  ``It→s = G([a_s, d_t])``: ``swap_grid.png``, ``swap_grid_start.png``;
- per-AU F1 of both models on the target faces that carry labels, when some do.

None of these says whether the adapted model is more accurate on the target; only labels
can. They show what moved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from d2ca.aus import au_number
from d2ca.data.dataset import ManifestDataset
from d2ca.data.manifest import Manifest
from d2ca.evaluation import evaluate, predict
from d2ca.evaluation.plots import (
    SWAP_HEADERS,
    compose,
    plot_base_rates,
    plot_probabilities,
    plot_tsne,
    sample_rows,
    swap_grid,
)
from d2ca.io import atomic_path
from d2ca.models import D2CAModel

SWAP_ROWS = 4


def label_rates(manifest: Manifest, au_names: tuple[str, ...]) -> np.ndarray:
    """Share of labelled faces with each AU present (NaN for an AU never labelled).

    >>> from pathlib import Path
    >>> m = Manifest(Path("."), [{}] * 3, ("AU01",), np.array([[1], [0], [-1]], np.int8))
    >>> label_rates(m, ("AU01",))
    array([0.5])
    """
    labels = manifest.with_aus(au_names).labels
    known = (labels >= 0).sum(0)
    return np.where(known > 0, (labels == 1).sum(0) / np.maximum(known, 1), np.nan)


def pick_au(rates: np.ndarray, au_names: tuple[str, ...]) -> int:
    """The AU whose source label rate is nearest 50%: the most informative colouring."""
    score = np.where(np.isnan(rates), np.inf, np.abs(rates - 0.5))
    return au_number(au_names[int(np.argmin(score))])


def adaptation_report(
    start: D2CAModel,
    adapted: D2CAModel,
    source: Manifest,
    target: Manifest,
    out: str | Path,
    *,
    start_name: str = "start",
    source_name: str = "source",
    target_name: str = "target",
    faces: int = 300,
    seed: int = 0,
    device: str = "cpu",
) -> Path:
    """Write ``out/report.md`` and its figures (replacing an earlier report in ``out``).

    Args:
        start, adapted: the two models; they must predict the same AUs.
        source: labelled source faces (for the label rates, t-SNE and swap grid).
        target: the target faces (labels, where present, only for the F1 table).
        faces: faces drawn per domain for predictions, t-SNE and the grids.

    Returns:
        The path of ``report.md``.

    Example:
        >>> adaptation_report(start, adapted, src, tgt, "runs/mine/report")  # doctest: +SKIP
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = adapted.config.au_names
    if start.config.au_names != names:
        raise ValueError("the start and adapted models predict different AUs")
    models = {f"start ({start_name})": start, "adapted": adapted}
    target_part = sample_rows(target, faces, seed)
    source_part = sample_rows(source, faces, seed)

    # 1. predictions on the target: base rates and probability distributions
    probs = {k: predict(m, target_part, device=device) for k, m in models.items()}
    decided = {k: p >= np.asarray(models[k].config.thresholds) for k, p in probs.items()}
    source_rates = label_rates(source, names)
    rates = {f"{source_name} labels": np.nan_to_num(source_rates)}
    rates.update({f"{k} on {target_name}": d.mean(0) for k, d in decided.items()})
    title = f"AU base rates: {source_name} labels, predictions on {target_name}"
    plot_base_rates(rates, names, out / "base_rates.png", title=title, overwrite=True)
    plot_probabilities(probs, names, adapted.config.thresholds, out / "probabilities.png",
                       title=f"AU probabilities on {target_name}", overwrite=True)  # fmt: skip
    before, after = decided.values()
    p_before, p_after = probs.values()

    # 2. AU features: t-SNE of both domains under each model (Fig. 12)
    au = pick_au(source_rates, names)
    domains = [(source_name, source_part), (target_name, target_part)]
    for key, model in (("start", start), ("adapted", adapted)):
        plot_tsne(model, domains, au, out / f"tsne_{key}.png", per_domain=faces, seed=seed,
                  device=device, overwrite=True)  # fmt: skip

    # 3. swap grids: target faces carrying source AUs
    rows = min(SWAP_ROWS, len(source_part), len(target_part))
    x_s = _images(sample_rows(source_part, rows, seed + 1), adapted, device)
    x_t = _images(sample_rows(target_part, rows, seed + 1), adapted, device)
    for key, model in (("", adapted), ("_start", start)):
        sheet = compose(swap_grid(model, x_s, x_t), SWAP_HEADERS)
        with atomic_path(out / f"swap_grid{key}.png", overwrite=True) as tmp:
            sheet.save(tmp, format="PNG")

    # 4. F1 where the target has labels
    labelled = target.select((target.with_aus(names).labels >= 0).any(1))
    # F1 needs a present label: an AU coded only absent scores 0 whatever a model does
    scored = [a for a in names if (labelled.with_aus([a]).labels == 1).any()]
    unscored = [a for a in names if a not in scored and (labelled.with_aus([a]).labels == 0).any()]
    f1 = {k: evaluate(m, labelled, au_names=scored, device=device) for k, m in models.items()
          if scored}  # fmt: skip

    lines = [
        f"# What adaptation changed on {target_name}",
        "",
        f"Start: `{start_name}`. Adapted: {adapted.config.provenance.get('steps', '?')} steps "
        f"of the D2CA objective on `{source_name}` (labelled) and `{target_name}` "
        "(unlabelled). No target label was used in training.",
        f"Measured on {len(target_part)} of {len(target)} target faces and "
        f"{len(source_part)} source faces. These figures show what moved, not whether the "
        "adapted model is more accurate: only target labels can say that.",
        "",
        "## Predicted base rates on the target",
        "Share of target faces predicted present (each model's thresholds), beside the "
        "share of labelled source faces with the AU; 'changed' is the share of target faces "
        "whose decision differs between the two models; 'mean p' the mean probability.",
        "",
        "| AU | source labels | start | adapted | changed | mean p start | mean p adapted |",
        "|---|---|---|---|---|---|---|",
    ]
    for j, a in enumerate(names):
        src = "-" if np.isnan(source_rates[j]) else f"{100 * source_rates[j]:.0f}%"
        lines.append(
            f"| {a} | {src} | {100 * before[:, j].mean():.0f}% | {100 * after[:, j].mean():.0f}% "
            f"| {100 * (before[:, j] != after[:, j]).mean():.0f}% | {p_before[:, j].mean():.2f} "
            f"| {p_after[:, j].mean():.2f} |"
        )
    lines += [
        "",
        "![base rates](base_rates.png)",
        "",
        "## Probabilities on the target",
        "Histograms per AU; the dashed line is the adapted model's threshold.",
        "",
        "![probabilities](probabilities.png)",
        "",
        "## AU features (t-SNE, the paper's Fig. 12)",
        f"AU features `E_au(x)` of {len(source_part)} source and {len(target_part)} target "
        f"faces, coloured by AU{au:02d}'s label (grey: unlabelled). Adaptation aims to mix the "
        "domains while keeping present and absent apart.",
        "",
        "| start | adapted |",
        "|---|---|",
        "| ![t-SNE start](tsne_start.png) | ![t-SNE adapted](tsne_adapted.png) |",
        "",
        "## Target faces carrying source AUs",
        "Columns: source face `Is`, target face `It`, `Is→t = G([a_t, d_s])`, "
        "`It→s = G([a_s, d_t])` (the target face with the source face's AUs), and the cyclic "
        "reconstructions `Îs`, `Ît` (Eq. 7). Adapted model:",
        "",
        "![swap grid](swap_grid.png)",
        "",
        "Start model: ![swap grid, start](swap_grid_start.png)",
        "",
        "## F1 on labelled target faces",
    ]
    if not scored:
        lines.append("No target face is labelled with an AU present (`d2ca prepare folder "
                     "--labels` adds labels).")  # fmt: skip
    else:
        lines += [
            f"{len(labelled)} target faces carry labels; F1 in % per AU labelled present at "
            "least once (threshold of each model's config)"
            + (f"; {', '.join(unscored)} only ever absent, so not scored." if unscored else "."),
            "",
            "| model | " + " | ".join(scored) + " | avg |",
            "|---" * (len(scored) + 2) + "|",
        ]
        for key, result in f1.items():
            cells = " | ".join(f"{100 * result['f1'][a]:.1f}" for a in scored)
            lines.append(f"| {key} | {cells} | {100 * result['avg_f1']:.1f} |")
    path = out / "report.md"
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def _images(manifest: Manifest, model: D2CAModel, device: str) -> torch.Tensor:
    """The faces of ``manifest`` as one normalised batch ``(n, 3, S, S)``."""
    data = ManifestDataset(manifest, model.config)
    return torch.stack([data[i]["image"] for i in range(len(data))]).to(device)
