"""The swaps a perfect synthesiser would make, rendered: SynthAU knows every face's identity,
AU intensities and scene (:func:`d2ca.data.synth.frame_factors`), so the receiver can be
rendered again with the donor's AUs, the same face, pose, light and camera (issue 18, part 5).

Three uses in ``synthesis_quality.py``: the AU oracle's F1 on these **ideal** swaps (what a
swap could score), how far the model's swaps are from them in pixels, and the same for the
donors rebuilt from their own halves, against the donors rendered with the receivers' AUs.

Pixel figures are mean absolute differences in the model's input units ([-1, 1], those of
``L_rec``, Eq. 7), over pixels and channels:

- ``au_signal``: ``|ideal - base|``, what the AUs alone change (``base``: the face the
  synthesis must move away from; for a swap the receiver, for a reconstruction the donor
  rendered with the receiver's AUs);
- ``error``: ``|synthesised - ideal|``; ``from_base``: ``|synthesised - base|``;
- ``au_moved``: how much of the AUs' change the synthesis made, the least-squares coefficient
  of ``synthesised - base`` on ``ideal - base`` over all faces and pixels: 1 for the ideal
  faces, 0 for the base or for changes unrelated to the AUs, whatever else the synthesis
  gets wrong (an L1 margin would not be: per pixel, an error larger than the AUs' change
  hides the change's sign);
- ``au_moved_clean``: the same coefficient on the AUs' change between renders without sensor
  noise or JPEG, a control: part of the renders' change is JPEG's, which no decoder can
  make, yet the two agree within 0.04 on every model measured;
- ``error_in_au_region`` and ``error_elsewhere``: the error where the AUs change a pixel (by
  more than :data:`AU_REGION`, in any channel) and where they do not; ``au_region`` the
  share of pixels in that region. ``au_signal / error`` says how much of what ``L_rec`` can
  see is the AUs.

A control for the reconstructions, ``bands``: is the AUs' change made as any other content of
its scale, or singled out? Each face is split into spatial bands by Gaussian blurs
(:data:`BANDS`, px), and per band the share the reconstruction makes of the donor's content
(the same coefficient, against the donor rendered without sensor noise or JPEG, which no
decoder could rebuild) and the share of the AUs' change (between such renders) that lies in
the band. Weighted by the latter, the shares predict ``au_moved_clean`` for a decoder that
treats the AUs as any detail of their size (``predicted_au_moved``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "synthau"))

from oracles import au_decisions, f1_summary  # noqa: E402
from synthesis_figures import blurred  # noqa: E402

from d2ca.config import D2CAConfig  # noqa: E402
from d2ca.data.manifest import Manifest  # noqa: E402
from d2ca.data.synth import PRESETS, frame_factors, render_face  # noqa: E402
from d2ca.models import D2CAModel, to_model_input  # noqa: E402

AU_REGION = 0.05  # in [-1, 1] units: 6.4 grey levels of 255
BLUR_CONTROL = (0.6, 1.0)  # px: about the blur that matches the reconstructions' detail
BANDS = (1.0, 2.0, 4.0)  # px: Gaussian blurs that split a face into four spatial bands


def factors(manifest: Manifest, index: Sequence[int]) -> list[tuple]:
    """``(identity, AU intensities, scene)`` of the rows ``index`` of a SynthAU render folder's
    ``manifest`` (its ``synthau.json`` gives the preset and the seed).

    Example:
        >>> test = read_manifest("renders").split("test")  # doctest: +SKIP
        >>> idt, aus, scene = factors(test, [0])[0]  # doctest: +SKIP
    """
    meta = json.loads((manifest.root / "synthau.json").read_text())
    preset, seed = meta["preset"]["name"], int(meta["seed"])
    if preset not in PRESETS:
        raise ValueError(f"{manifest.root}: preset {preset!r} is not a built-in one")
    out = []
    for i in index:
        row = manifest.rows[int(i)]
        subject = int(row["subject"].rsplit("_s", 1)[1])
        out.append(frame_factors(preset, subject, int(row["frame"]), seed))
    return out


def rerender(faces: Sequence[tuple], aus: np.ndarray, config: D2CAConfig) -> torch.Tensor:
    """``faces`` (:func:`factors`) rendered with the AU intensities ``aus`` ``(n, 12)``, as the
    model sees faces: ``(n, 3, S, S)``, normalised by ``config``'s mean and std.

    Example:
        >>> x = rerender(factors(test, [0, 1]), donor_aus, model.config)  # doctest: +SKIP
    """
    size = config.image_size
    pixels = [
        render_face(idt, a, scene, size) for (idt, _, scene), a in zip(faces, aus, strict=True)
    ]
    if not pixels:
        return torch.zeros(0, 3, size, size)
    return to_model_input(np.stack(pixels), config)


def pixel_figures(synthesised: torch.Tensor, ideal: torch.Tensor, base: torch.Tensor,
                  clean_change: torch.Tensor | None = None) -> dict:  # fmt: skip
    """How near ``synthesised`` faces are to the ``ideal`` ones and to the ``base`` they must
    move away from (module docstring), all ``(n, 3, S, S)`` in the same units. With
    ``clean_change``, the AUs' change between renders without sensor noise or JPEG, also
    ``au_moved_clean``, the share of that change made.

    Example:
        >>> pixel_figures(ideal, ideal, base)["au_moved"]  # doctest: +SKIP
        1.0
    """
    synthesised, ideal, base = (t.detach().float().cpu() for t in (synthesised, ideal, base))
    error = (synthesised - ideal).abs()
    change, made = ideal - base, synthesised - base
    changed = change.abs()
    signal, err = changed.mean().item(), error.mean().item()
    region = (changed.amax(1, keepdim=True) > AU_REGION).expand_as(error)

    def mean_over(mask: torch.Tensor) -> float | None:
        return error[mask].mean().item() if mask.any() else None

    return {
        "au_signal": signal,
        "error": err,
        "from_base": made.abs().mean().item(),
        "au_moved": _coefficient(made, change),
        "au_moved_clean": None if clean_change is None else _coefficient(made, clean_change),
        "au_signal_over_error": signal / err if err > 0 else None,
        "error_in_au_region": mean_over(region),
        "error_elsewhere": mean_over(~region),
        "au_region": region.float().mean().item(),
    }


def _coefficient(y: torch.Tensor, x: torch.Tensor) -> float | None:
    """The least-squares coefficient of ``y`` on ``x`` over all elements (None if ``x`` is 0)."""
    norm = x.float().pow(2).sum().item()
    return (y.float() * x.float()).sum().item() / norm if norm > 0 else None


def clean(faces: Sequence[tuple]) -> list[tuple]:
    """``faces`` (:func:`factors`) in scenes without sensor noise or JPEG."""
    return [(idt, aus, replace(scene, noise=0.0, jpeg=100)) for idt, aus, scene in faces]


def split_bands(x: torch.Tensor) -> list[torch.Tensor]:
    """``x`` as the sum of four spatial bands, finest first: ``x - blur_1``, ``blur_1 -
    blur_2``, ``blur_2 - blur_4``, ``blur_4`` (Gaussian blurs of :data:`BANDS` px)."""
    blurs = [x] + [blurred(x, sigma) for sigma in BANDS]
    return [fine - coarse for fine, coarse in pairwise(blurs)] + [blurs[-1]]


def band_figures(synthesised: torch.Tensor, faces: torch.Tensor, change: torch.Tensor) -> dict:
    """Per band (:func:`split_bands`), the share of the ``faces``' content that
    ``synthesised`` makes (least-squares coefficient, 1 for ``faces`` themselves) and the share of
    the AUs' ``change`` energy that lies in it; their weighted sum, ``predicted_au_moved``.

    Example:
        >>> x, c = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        >>> round(band_figures(x, x, c)["predicted_au_moved"], 6)
        1.0
    """
    synthesised, faces, change = (t.detach().float().cpu() for t in (synthesised, faces, change))
    pairs = zip(split_bands(synthesised), split_bands(faces), strict=True)
    made = [_coefficient(s, c) for s, c in pairs]
    energy = torch.stack([b.pow(2).sum() for b in split_bands(change)])
    energy = (energy / energy.sum()).tolist()
    labels = [f"<{BANDS[0]}"] + [f"{a}-{b}" for a, b in pairwise(BANDS)] + [f">{BANDS[-1]}"]
    return {
        "bands_px": labels,
        "content_made": made,
        "au_change_energy": energy,
        "predicted_au_moved": sum(m * e for m, e in zip(made, energy, strict=True)),
    }


def ideal_figures(oracle: D2CAModel, donors: tuple[Manifest, torch.Tensor],
                  receivers: tuple[Manifest, torch.Tensor], i_a: np.ndarray, i_r: np.ndarray,
                  x_ts: torch.Tensor, z_a: np.ndarray, aus: Sequence[str], config: D2CAConfig,
                  x_rec: torch.Tensor | None = None) -> dict:  # fmt: skip
    """One condition's swaps ``x_ts`` (donors ``i_a``, receivers ``i_r`` of the two test
    ``(manifest, faces)`` tuples) against the ideal ones: the oracle's F1 on the ideal swaps
    against the donors' labels ``z_a``, and :func:`pixel_figures` of the swaps; with ``x_rec``
    (the donors rebuilt from their own halves) the same for it, against the donors rendered
    with the receivers' AUs."""
    f_a, f_r = factors(donors[0], i_a), factors(receivers[0], i_r)
    aus_a, aus_r = (np.stack([f[1] for f in fs]) for fs in (f_a, f_r))
    ideal = rerender(f_r, aus_a, config)
    base = receivers[1][i_r]
    c_r, c_a = clean(f_r), clean(f_a)
    clean_swap = rerender(c_r, aus_a, config) - rerender(c_r, aus_r, config)
    out = {
        "avg_f1": f1_summary(au_decisions(oracle, ideal, aus), z_a, aus)["avg_f1"],
        "swap": pixel_figures(x_ts, ideal, base, clean_swap),
        # a control: the ideal swaps blurred (Gaussian, sigma in px), what blur alone costs
        "blurred_ideal_au_moved": {
            str(sigma): pixel_figures(blurred(ideal, sigma), ideal, base)["au_moved"]
            for sigma in BLUR_CONTROL
        },
    }
    if x_rec is not None:
        x_a, x_a_clean = donors[1][i_a], rerender(c_a, aus_a, config)
        change = x_a_clean - rerender(c_a, aus_r, config)
        out["reconstruction"] = pixel_figures(x_rec, x_a, rerender(f_a, aus_r, config), change)
        out["reconstruction"]["bands"] = band_figures(x_rec, x_a_clean, change)
    return out


def ideal_table(runs: Sequence[tuple[str, dict]]) -> str:
    """A markdown table of the ideal-swap figures of saved runs (``synthesis_quality.py
    --table``), a row per ``(label, figures)``.

    Example:
        >>> print(ideal_table([]).splitlines()[0][:22])
        | run | steps | seed |
    """

    def num(x: float | None, scale: float = 1.0, digits: int = 3) -> str:
        return "-" if x is None else f"{scale * x:.{digits}f}"

    head = ("run", "steps", "seed", "ideal swaps F1", "ideal carried %", "swapped F1",
            "AU signal", "swap error", "swap error, AU region / elsewhere", "swap AU moved",
            "reconstruction error", "reconstruction AU moved", "across: ideal F1",
            "across: swap error", "across: AU moved")  # fmt: skip
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, f in runs:
        w, c = f["within"], f.get("cross_domain")
        i, px = w["ideal"], w["ideal"]["swap"]
        rec = i.get("reconstruction") or {}
        ci = (c or {}).get("ideal") or {"swap": {}}
        cs = ci["swap"]
        cells = [label, f.get("model_steps", "-"), f.get("model_seed", "-"),
                 num(i["avg_f1"], 100, 1), num(i["carried"], 100, 1),
                 num(w["transfer"]["avg_f1"]["swapped"], 100, 1),
                 num(px["au_signal"]), num(px["error"]),
                 f"{num(px['error_in_au_region'])} / {num(px['error_elsewhere'])}",
                 num(px["au_moved"], digits=2), num(rec.get("error")),
                 num(rec.get("au_moved"), digits=2), num(ci.get("avg_f1"), 100, 1),
                 num(cs.get("error")), num(cs.get("au_moved"), digits=2)]  # fmt: skip
        rows.append("| " + " | ".join(str(x) for x in cells) + " |")
    return "\n".join(rows)
