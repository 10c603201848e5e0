"""SynthAU's face geometry in face space (frontal, 2D; the crop spans [-1, 1], y down): the
landmark polylines, creases and Gaussian depth bumps of one identity showing given AU
intensities (:func:`_plan`, a :class:`_Plan`), each AU a localised deformation of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from d2ca.data.synth.sampling import AUS, Identity
from d2ca.errors import InputError

_CY = -0.05  # head ellipsoid centre (face units: the crop spans [-1, 1], y down)


def _au_vector(aus: Mapping[int, float] | Sequence[float] | np.ndarray) -> dict[int, float]:
    """AU intensities as ``{au: intensity / 5}`` (0-1), from a mapping or an AUS-ordered vector."""
    if isinstance(aus, Mapping):
        unknown = [a for a in aus if a not in AUS]
        if unknown:
            raise InputError(f"SynthAU renders AUs {AUS}, not {unknown}")
        values = {a: float(aus.get(a, 0.0)) for a in AUS}
    else:
        vec = np.asarray(aus, dtype=float).reshape(-1)
        if vec.shape != (len(AUS),):
            raise InputError(f"expected {len(AUS)} AU intensities, got {vec.shape[0]}")
        values = dict(zip(AUS, vec.tolist(), strict=True))
    if any(not 0 <= v <= 5 for v in values.values()):
        raise InputError("AU intensities must lie in [0, 5]")
    return {a: v / 5 for a, v in values.items()}


def _spline(points: Sequence[Sequence[float]], n: int = 8) -> np.ndarray:
    """Catmull-Rom curve through ``points`` with ``n`` samples per segment."""
    p = np.asarray(points, dtype=float)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0, 1, n, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    out.append(p[-2][None])
    return np.vstack(out)


@dataclass
class _Plan:
    """Face-space (frontal, 2D) geometry of one expression of one identity."""

    shapes: dict[str, np.ndarray] = field(default_factory=dict)  # named polylines
    creases: list[tuple[np.ndarray, float, float]] = field(default_factory=list)  # (line, dark, w)
    bumps: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    teeth: np.ndarray | None = None  # polygon of visible teeth
    chin_texture: float = 0.0  # AU17 "orange peel" dimpling of the chin boss


def _plan(idt: Identity, k: Mapping[int, float]) -> _Plan:
    """Landmarks, creases and depth bumps of identity ``idt`` showing AUs ``k`` (0-1 each)."""
    plan = _Plan()
    # face outline: ellipse, widened or tapered in the jaw
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    ox, oy = idt.face_w * np.sin(t), _CY - idt.face_h * np.cos(t)
    rel = (oy - _CY) / idt.face_h
    ox = ox * (1 + idt.jaw * np.exp(-(((rel - 0.65) / 0.2) ** 2)))
    plan.shapes["outline"] = np.stack([ox, oy], 1)
    for side, s in (("l", -1), ("r", 1)):
        _plan_brow_and_eye(plan, idt, k, side, s)
    _plan_forehead(plan, idt, k)
    nose_w, nose_y = _plan_nose(plan, idt, k)
    _plan_mouth(plan, idt, k, nose_w, nose_y)
    return plan


def _plan_brow_and_eye(
    plan: _Plan, idt: Identity, k: Mapping[int, float], side: str, s: int
) -> None:
    """One brow and eye (``s`` = -1 on the image's left): AU1, AU2, AU4, AU6, AU7."""
    # --- brows (AU1 inner raise, AU2 outer raise, AU4 lower and draw together)
    es, ey = idt.eye_spacing, idt.eye_y
    ew = 0.072 * idt.eye_size
    by = ey - 0.095 * idt.brow_height
    inner = np.array([s * (es - ew * 1.05 - 0.025 * k[4]), by + 0.012 - 0.06 * k[1] + 0.045 * k[4]])
    peak = np.array(
        [s * (es + 0.25 * ew), by - idt.brow_arch - 0.015 * k[1] - 0.05 * k[2] + 0.02 * k[4]]
    )
    outer = np.array([s * (es + 1.45 * ew), by + 0.01 - 0.05 * k[2] + 0.008 * k[4]])
    centre = _spline([inner, peak, outer], 6)
    th = 0.022 * idt.brow_thick * np.linspace(1.0, 0.45, len(centre))
    th = th * (1 + 0.2 * k[4])
    normal = np.gradient(centre, axis=0)[:, ::-1] * np.array([1, -1])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    normal *= -np.sign(normal[:, 1:2] + 1e-9)  # point up
    top = centre + normal * th[:, None] * 0.55
    bottom = centre - normal * th[:, None] * 0.45
    plan.shapes[f"brow_{side}"] = np.vstack([top, bottom[::-1]])
    # --- eyes (AU6 / AU7 raise the lower lid; AU4 / AU7 lower the upper lid)
    cx = s * es
    hu = 0.044 * idt.eye_size * (1 - 0.22 * k[4] - 0.2 * k[7] - 0.12 * k[6])
    hl = 0.026 * idt.eye_size * (1 - 0.5 * k[6] - 0.65 * k[7])
    lift = 0.012 * k[6] + 0.012 * k[7]
    u = np.linspace(0, 1, 13)
    xs = cx + s * ew * (2 * u - 1)
    base = ey - idt.eye_tilt * (2 * u - 1) * 0.5  # outer corner higher for tilt > 0
    upper = np.stack([xs, base - hu * np.sin(np.pi * u) ** 0.8 * (1 + 0.15 * (0.5 - u))], 1)
    lower = np.stack([xs, base + hl * np.sin(np.pi * u) - lift * np.sin(np.pi * u) ** 2], 1)
    plan.shapes[f"eye_{side}"] = np.vstack([upper, lower[::-1][1:-1]])
    plan.shapes[f"upper_lid_{side}"] = upper
    plan.shapes[f"lower_lid_{side}"] = lower
    plan.shapes[f"iris_{side}"] = np.array([[cx, ey - 0.004], [0.034 * idt.eye_size, 0]])
    # AU6: crow's feet at the outer corner and the infraorbital furrow
    corner = np.array([cx + s * ew * 1.05, ey])
    for j, ang in enumerate((-0.45, 0.0, 0.45)):
        d = np.array([s * math.cos(ang), math.sin(ang)])
        start = corner + d * 0.02
        line = np.stack([start, start + d * 0.055 + np.array([0, 0.006 * j - 0.006])])
        plan.creases.append((line, 0.45 * k[6] + 0.15 * idt.age, 0.006))
    furrow = _spline(
        [
            [cx - s * ew * 0.8, ey + hl + 0.03],
            [cx, ey + hl + 0.045 - lift],
            [cx + s * ew * 0.9, ey + hl + 0.025],
        ],
        5,
    )
    plan.creases.append((furrow, 0.35 * k[6] + 0.1 * idt.age, 0.007))
    plan.creases.append((lower + [0, 0.012], 0.4 * k[7] + 0.15 * k[6], 0.008))  # lid bulge
    # cheeks (AU6 raise, AU12 a little)
    plan.bumps.append(
        (
            s * 0.25,
            0.1 - 0.035 * k[6] - 0.01 * k[12],
            0.11,
            0.09,
            0.05 + 0.07 * k[6] + 0.025 * k[12],
        )
    )
    plan.bumps.append((cx, ey, 0.08, 0.05, -0.04))  # eye socket
    # AU2: lateral forehead lines (AU1's central ones: _plan_forehead)
    for j in range(3):
        y = by - 0.06 - 0.042 * j
        lat = _spline([[s * 0.07, y + 0.004], [s * 0.18, y - 0.006], [s * 0.3, y + 0.02]], 5)
        plan.creases.append((lat, 0.35 * k[2] + 0.12 * idt.age, 0.006))


def _plan_forehead(plan: _Plan, idt: Identity, k: Mapping[int, float]) -> None:
    """AU1's central forehead lines, AU4's furrows and bunching, the brow ridge."""
    ey = idt.eye_y
    by = ey - 0.095 * idt.brow_height
    for j in range(3):  # AU1: central forehead lines
        y = by - 0.065 - 0.042 * j
        line = _spline([[-0.13, y + 0.008], [0, y - 0.004], [0.13, y + 0.008]], 5)
        plan.creases.append((line, 0.4 * k[1] + 0.12 * idt.age, 0.006))
    for s in (-1, 1):  # AU4: vertical furrows between the brows
        line = np.array([[s * 0.022, by - 0.05], [s * 0.028, by + 0.04]])
        plan.creases.append((line, 0.55 * k[4], 0.007))
    plan.creases.append((np.array([[-0.035, ey - 0.02], [0.035, ey - 0.02]]), 0.3 * k[4], 0.006))
    plan.bumps.append((0.0, by + 0.02, 0.3, 0.04, 0.025))  # brow ridge
    plan.bumps.append((0.0, by + 0.035 + 0.02 * k[4], 0.06, 0.03, 0.02 * k[4]))  # AU4 bunching


def _plan_nose(plan: _Plan, idt: Identity, k: Mapping[int, float]) -> tuple[float, float]:
    """Nose bumps, nostrils and wings (AU10 raises and flares them); returns half-width, tip y."""
    ey = idt.eye_y
    nw = 0.065 * idt.nose_w * (1 + 0.15 * k[10])
    ny = 0.095 * idt.nose_len
    plan.bumps.append((0.0, (ey + ny) / 2, 0.035, (ny - ey) / 2, 0.09))  # ridge
    plan.bumps.append((0.0, ny - 0.005, 0.04, 0.035, 0.06))  # tip
    for s in (-1, 1):
        plan.bumps.append((s * nw * 0.8, ny, 0.03, 0.025, 0.03))  # wings
        cxn, cyn = s * nw * 0.45, ny + 0.018 - 0.012 * k[10]
        tt = np.linspace(0, 2 * np.pi, 14, endpoint=False)
        plan.shapes[f"nostril_{'lr'[s > 0]}"] = np.stack(
            [cxn + 0.018 * np.cos(tt), cyn + 0.008 * np.sin(tt)], 1
        )
        wing = _spline(
            [
                [s * nw * 0.5, ny - 0.035],
                [s * nw * 1.0, ny - 0.005],
                [s * nw * 0.8, ny + 0.025 - 0.01 * k[10]],
            ],
            5,
        )
        plan.creases.append((wing, 0.25 + 0.2 * k[10], 0.006))
    return nw, ny


def _plan_mouth(plan: _Plan, idt: Identity, k: Mapping[int, float], nw: float, ny: float) -> None:
    """Lips, nasolabial folds, dimples, chin: AU10, AU12, AU14, AU15, AU17, AU23, AU24."""
    my = ny + 0.17
    mw = 0.14 * idt.mouth_w * (1 - 0.14 * k[23] - 0.1 * k[14]) * (1 + 0.15 * k[12])
    # nasolabial folds (AU12 deepens and pushes them out, AU10 deepens the top, AU6 too)
    for s in (-1, 1):
        fold = _spline(
            [
                [s * (nw + 0.025), ny - 0.01 - 0.01 * k[10]],
                [s * (mw + 0.035 + 0.02 * k[12]), my - 0.04 - 0.01 * k[12]],
                [s * (mw + 0.05 + 0.02 * k[12]), my + 0.06],
            ],
            6,
        )
        plan.creases.append(
            (fold, 0.08 + 0.25 * idt.age + 0.4 * k[12] + 0.3 * k[10] + 0.1 * k[6], 0.012)
        )
    # --- mouth: AU12 up/out, AU15 down, AU14 in + dimple, AU10 upper lip up,
    #     AU17 lower lip up, AU23 thin and narrow, AU24 pressed thin and straight
    thin = min(0.6 * k[23] + 0.6 * k[24], 0.75)
    ul = 0.03 * idt.lip_thick * (1 - thin - 0.15 * k[12])
    ll = 0.04 * idt.lip_thick * (1 - thin - 0.1 * k[12])
    c_dy = -0.055 * k[12] + 0.055 * k[15] - 0.004 * k[14] + 0.008 * k[17]
    seam_mid = 0.006 * (1 - k[24]) - 0.016 * k[17]
    raise_ul = 0.03 * k[10]

    def lip(xr: float, dy: float) -> list[float]:  # xr in [-1, 1] across the mouth
        return [xr * mw, my + dy + c_dy * abs(xr) ** 2.2]

    top = [
        lip(-1, 0),
        lip(-0.6, -0.75 * ul - 0.8 * raise_ul),
        lip(-0.22, -ul - raise_ul),
        lip(0, -0.8 * ul - raise_ul),
        lip(0.22, -ul - raise_ul),
        lip(0.6, -0.75 * ul - 0.8 * raise_ul),
        lip(1, 0),
    ]
    seam_u = [
        lip(x, seam_mid * (1 - x * x) - 0.6 * raise_ul * (1 - x * x) ** 1.5)
        for x in np.linspace(-1, 1, 9)
    ]
    seam_l = [lip(x, seam_mid * (1 - x * x)) for x in np.linspace(-1, 1, 9)]
    bottom = [
        lip(-1, 0),
        lip(-0.55, 0.8 * ll + 0.015 * k[15]),
        lip(0, ll - 0.02 * k[17]),
        lip(0.55, 0.8 * ll + 0.015 * k[15]),
        lip(1, 0),
    ]
    top_c, seam_uc = _spline(top, 4), _spline(seam_u, 3)
    seam_lc, bottom_c = _spline(seam_l, 3), _spline(bottom, 5)
    plan.shapes["upper_lip"] = np.vstack([top_c, seam_uc[::-1]])
    plan.shapes["lower_lip"] = np.vstack([seam_lc, bottom_c[::-1]])
    plan.shapes["mouth"] = np.vstack([top_c, bottom_c[::-1]])
    plan.shapes["seam"] = seam_lc
    if k[10] > 0.25:
        plan.teeth = np.vstack([seam_uc, seam_lc[::-1]])
    plan.creases.append((seam_lc, 0.55 + 0.2 * k[24], 0.007 * (1 + 0.5 * k[24])))
    plan.creases.append((top_c, 0.4 * k[23], 0.006))  # AU23: defined lip borders
    plan.creases.append((bottom_c, 0.35 * k[23], 0.006))
    for s in (-1, 1):
        cx, cy = s * mw, my + c_dy
        plan.creases.append(
            (np.array([[cx - s * 0.012, cy], [cx + s * 0.01, cy]]), 0.35 + 0.4 * k[14], 0.008)
        )  # corner
        dimple = _spline(
            [[cx + s * 0.035, cy - 0.035], [cx + s * 0.045, cy], [cx + s * 0.035, cy + 0.03]], 4
        )
        plan.creases.append((dimple, 0.9 * k[14], 0.012))  # AU14
        plan.bumps.append((cx + s * 0.04, cy, 0.02, 0.03, -0.025 * k[14]))
        marionette = np.array([[cx + s * 0.01, cy + 0.015], [cx + s * 0.03, cy + 0.09]])
        plan.creases.append((marionette, 0.65 * k[15] + 0.1 * idt.age, 0.011))  # AU15
        plan.bumps.append((cx + s * 0.02, cy + 0.05, 0.025, 0.04, -0.02 * k[15]))
    chin_y = _CY + idt.face_h
    sulcus = _spline(
        [[-0.08, my + ll + 0.045], [0, my + ll + 0.032 - 0.01 * k[17]], [0.08, my + ll + 0.045]], 5
    )
    plan.creases.append((sulcus, 0.08 + 0.5 * k[17], 0.01))  # AU17: mentolabial sulcus
    plan.chin_texture = k[17]
    plan.shapes["chin"] = np.array([[0.0, chin_y - 0.13 - 0.02 * k[17]], [0.1, 0.07]])
    plan.bumps.append((0.0, chin_y - 0.12 - 0.02 * k[17], 0.09, 0.07, 0.04 + 0.06 * k[17]))
    plan.bumps.append((0.0, my + 0.01, mw * 0.9, 0.04, 0.035 + 0.015 * k[23] + 0.02 * k[17]))
    plan.bumps.append((0.0, my - ul - 0.03, mw * 0.9, 0.018, 0.03 * k[24]))  # AU24 bulges
    plan.bumps.append((0.0, my + ll + 0.03, mw * 0.9, 0.018, 0.03 * k[24]))
