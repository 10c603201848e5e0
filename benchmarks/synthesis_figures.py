"""The figures of ``benchmarks/synthesis_quality.py``, from what its oracles read: the share of
the AU evidence carried, a blur control, the interpolation strips' order, and the table of
saved runs (``--table``). Pure functions of tensors and arrays; the oracle is given.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

sys.path.insert(0, str(Path(__file__).resolve().parent / "synthau"))

from oracles import au_decisions, f1_summary  # noqa: E402

from d2ca.models import D2CAModel  # noqa: E402

TOL = 0.02  # probability: a fall within it is noise, a rise must pass it


def carried_share(swapped: float, floor: float, ceiling: float) -> float | None:
    """``(swapped - floor) / (ceiling - floor)``; None when the ceiling is not above the floor.

    Example:
        >>> round(carried_share(0.601, 0.162, 0.768), 3)  # the issue's 72%
        0.724
    """
    return (swapped - floor) / (ceiling - floor) if ceiling - floor > 1e-9 else None


BLUR_SIGMAS = tuple(round(0.1 * i, 1) for i in range(1, 41))  # pixels: 0.1 .. 4


def sharpness(x: torch.Tensor) -> float:
    """Fine detail of faces ``(n, 3, S, S)``: the mean squared Laplacian of their pixels."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    return float(F.conv2d(x, kernel.expand(3, 1, 3, 3), groups=3).pow(2).mean())


def blur_like(x: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``x`` blurred (Gaussian) until no sharper than ``reference``, and the blur's sigma: the
    first of :data:`BLUR_SIGMAS` that gets there (0: ``x`` is already no sharper).

    Example:
        >>> x = torch.rand(4, 3, 32, 32)
        >>> blur_like(x, gaussian_blur(x, [9, 9], [1.5, 1.5]))[1]
        1.5
    """
    target = sharpness(reference)
    if sharpness(x) <= target:
        return x, 0.0
    for sigma in BLUR_SIGMAS:
        out = blurred(x, sigma)
        if sharpness(out) <= target:
            break
    return out, sigma


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``(n, 3, S, S)`` blurred by a Gaussian of ``sigma`` pixels (3 sigma each side)."""
    size = 2 * math.ceil(3 * sigma) + 1
    return gaussian_blur(x, [size, size], [sigma, sigma])


def transfer_figures(oracle: D2CAModel, x_ts: torch.Tensor, x_a: torch.Tensor,
                     x_r: torch.Tensor, z_a: np.ndarray, z_r: np.ndarray, aus: Sequence[str],
                     x_rec: torch.Tensor | None = None) -> dict:  # fmt: skip
    """AU transfer of one condition, from the oracle's decisions on each set of faces.

    - Against the donors' labels ``z_a``: its F1 on the swapped faces, the untouched
      receivers (floor) and the donors; its ceiling on real faces of its own domain (the
      donors within a domain, where ``x_rec``, the donors rebuilt from their own halves, is
      given; across, the receivers against their own labels ``z_r``); the share carried.
    - With ``x_rec``: its F1 on ``x_rec`` and on the donors blurred until no sharper than
      ``x_rec`` (``blur_matched``: what fine detail alone costs it).
    - What the swap **kept** of the receivers' own AUs: F1 against ``z_r`` on the swapped
      faces, from the donors' (unrelated faces: chance) to the receivers' own (all kept).
    """
    faces = {"swapped": x_ts, "receivers": x_r, "donors": x_a}
    blur = None
    if x_rec is not None:
        blurred, sigma = blur_like(x_a, x_rec)  # the donors with no more detail than x_rec
        faces |= {"reconstructed": x_rec, "blur_matched": blurred}
        blur = {"sigma": sigma, "sharpness": {k: sharpness(faces[k]) for k in
                ("donors", "reconstructed", "blur_matched")}}  # fmt: skip
    pred = {k: au_decisions(oracle, x, aus) for k, x in faces.items()}  # one pass each
    f1 = {k: f1_summary(p, z_a, aus) for k, p in pred.items() if k != "receivers"}
    f1["floor"] = f1_summary(pred["receivers"], z_a, aus)
    on_own = f1_summary(pred["receivers"], z_r, aus)
    f1["ceiling"] = f1["donors"] if x_rec is not None else on_own
    avg = {name: v["avg_f1"] for name, v in f1.items()}
    kept = {
        "swapped": f1_summary(pred["swapped"], z_r, aus)["avg_f1"],
        "chance": f1_summary(pred["donors"], z_r, aus)["avg_f1"],
        "receivers": on_own["avg_f1"],
    }
    return {
        "f1": f1,
        "avg_f1": avg,
        "carried": carried_share(avg["swapped"], avg["floor"], avg["ceiling"]),
        "ceiling_faces": "donors" if x_rec is not None else "receivers, their own labels",
        "swapped_minus_donors": avg["swapped"] - avg["donors"],
        "receiver_aus": kept
        | {"kept": carried_share(kept["swapped"], kept["chance"], kept["receivers"])},
        "blur": blur,
    }


def strip_figures(probs: np.ndarray, z_a: np.ndarray, z_b: np.ndarray, aus: Sequence[str],
                  tol: float = TOL) -> dict:  # fmt: skip
    """Monotonic share and mean Spearman of the strips ``probs`` ``(n, K, A)`` over every
    (strip, AU) whose labels in ``z_a`` (``t = 0``) and ``z_b`` (``t = 1``) differ (both
    known); each strip oriented from the end where the AU is absent. None where no case.

    Example:
        >>> p = np.linspace(0, 1, 5)[None, :, None]
        >>> strip_figures(p, np.array([[0]]), np.array([[1]]), ["AU12"])["monotonic"]
        1.0
    """
    from scipy.stats import rankdata

    n, k, _ = probs.shape
    ranks_t = np.arange(k, dtype=np.float64)
    cases: dict[str, list[tuple[bool, float]]] = {a: [] for a in aus}
    for i in range(n):
        for j, au in enumerate(aus):
            if z_a[i, j] < 0 or z_b[i, j] < 0 or z_a[i, j] == z_b[i, j]:
                continue
            p = probs[i, :, j].astype(np.float64)
            p = p[::-1] if z_a[i, j] == 1 else p  # absent -> present
            moves = p.max() - p.min() > tol
            monotonic = bool((np.diff(p) >= -tol).all() and p[-1] - p[0] > tol)
            rho = float(np.corrcoef(ranks_t, rankdata(p))[0, 1]) if moves else 0.0
            cases[au].append((monotonic, rho))

    def summary(rows: list[tuple[bool, float]]) -> dict:
        if not rows:
            return {"cases": 0, "monotonic": None, "spearman": None}
        mono, rho = zip(*rows, strict=True)
        return {"cases": len(rows), "monotonic": float(np.mean(mono)),
                "spearman": float(np.mean(rho))}  # fmt: skip

    every = [c for rows in cases.values() for c in rows]
    return summary(every) | {
        "per_au": {a: summary(rows) for a, rows in cases.items()},
        "strips": n,
        "points": k,
        "tol": tol,
    }


def table(runs: Sequence[tuple[str, dict]]) -> str:
    """A markdown table of saved figures (``--table``), a row per ``(label, figures)``: the
    within-domain losses of AU evidence, the strips under each reader, and the cross-domain
    transfer.

    Example:
        >>> print(table([]).splitlines()[0][:29])
        | run | pair | steps | seed |
    """

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    head = ("run", "pair", "steps", "seed", "donors", "donors blurred as the reconstructions",
            "reconstructed", "swapped", "floor", "carried, blurred donors %",
            "carried, reconstructed %", "carried, swapped %", "receivers' AUs kept %",
            "strips monotonic %: features / faces / oracle", "across: untranslated donors",
            "across: swapped", "across: carried %")  # fmt: skip
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, f in runs:
        w = f["within"]
        t, a = w["transfer"], w["transfer"]["avg_f1"]
        own = w["interpolation_model"]
        strips = " / ".join(pct(s["monotonic"]) for s in
                            (own["features"], own["faces"], w["interpolation"]))  # fmt: skip
        cross = f.get("cross_domain", {}).get("transfer")
        cells = [label, f.get("model_pair") or "-", f.get("model_steps", "-"),
                 f.get("model_seed", "-"),
                 pct(a["donors"]), pct(a.get("blur_matched")), pct(a.get("reconstructed")),
                 pct(a["swapped"]), pct(a["floor"]),
                 *(pct(a.get(k) and carried_share(a[k], a["floor"], a["ceiling"]))
                   for k in ("blur_matched", "reconstructed")),
                 pct(t["carried"]), pct(t["receiver_aus"]["kept"]), strips,
                 pct(cross and cross["avg_f1"]["donors"]),
                 pct(cross and cross["avg_f1"]["swapped"]),
                 pct(cross and cross["carried"])]  # fmt: skip
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(rows)
