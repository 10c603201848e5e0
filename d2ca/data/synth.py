"""SynthAU: procedurally rendered faces with known AU intensities, identities and domains.

A face is a 2.5D model: an ellipsoid head with Gaussian bumps (nose, cheeks, brow ridge,
chin) gives depth and Lambertian shading; eyes, brows, lips, nostrils and creases are
anti-aliased polygons and strokes drawn on the skin. Every landmark has a depth, so head
pose is a true rotation followed by an orthographic projection. The 12 BP4D AUs are
localised deformations of the landmarks, the creases and the bumps (FACS, see
``docs/synthau.md``); a domain (:data:`PRESETS`) sets the distributions of pose, light,
background, occluders, camera and AU base rates.

Everything is deterministic: identities come from ``default_rng((seed, domain, subject))``,
frames from ``default_rng((seed, domain, subject, frame, 1))``, so pixels and labels do not
depend on batch order or worker count.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> preset = PRESETS["wild"]
    >>> face = render_face(sample_identity(rng, preset), sample_aus(rng, preset),
    ...                    sample_scene(rng, preset), size=64)
    >>> face.shape, face.dtype
    ((64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import json
import math
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from d2ca.aus import DATASET_AUS, au_name
from d2ca.data.manifest import write_manifest
from d2ca.data.synth_presets import (
    HAIR_PALETTE,
    IRIS_PALETTE,
    PRESETS,
    PROTOTYPES,
    SKIN_PALETTE,
    Preset,
)
from d2ca.errors import InputError
from d2ca.io import OutputExistsError, atomic_path

__all__ = [
    "AUS",
    "PRESETS",
    "Identity",
    "Preset",
    "Scene",
    "face_landmarks",
    "render_dataset",
    "render_face",
    "sample_aus",
    "sample_identity",
    "sample_scene",
]

AUS: tuple[int, ...] = DATASET_AUS["synthau"]  # (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
LABEL_THRESHOLD = 2.0  # an AU is present (label 1) when its intensity is >= 2 (FACS "B")
OCCLUDERS = ("none", "glasses", "sunglasses", "hand", "bar")
HAIR_STYLES = ("short", "long", "buzz", "curly")
_CY = -0.05  # head ellipsoid centre (face units: the crop spans [-1, 1], y down)
_SS = 2  # supersampling factor of the internal canvas
_ZOOM, _ZOOM_Y = 1.3, 0.05  # an aligned crop: face units around y = 0.05 magnified 1.3x


@dataclass(frozen=True)
class Identity:
    """The parameters of one subject; lengths are in face units (the crop spans [-1, 1])."""

    face_w: float = 0.5  # head ellipsoid half-width
    face_h: float = 0.67  # half-height
    jaw: float = 0.0  # -: tapered jaw, +: square jaw
    skin: tuple[float, float, float] = (0.83, 0.66, 0.54)  # RGB in [0, 1]
    eye_size: float = 1.0
    eye_spacing: float = 0.2  # half the distance between the eye centres
    eye_y: float = -0.12
    eye_tilt: float = 0.005  # outer corner above inner corner
    iris: tuple[float, float, float] = (0.3, 0.2, 0.12)
    brow_thick: float = 1.0
    brow_arch: float = 0.025
    brow_height: float = 1.0
    brow_rgb: tuple[float, float, float] = (0.2, 0.14, 0.1)
    nose_len: float = 1.0
    nose_w: float = 1.0
    mouth_w: float = 1.0
    lip_thick: float = 1.0
    lip_rgb: tuple[float, float, float] = (0.72, 0.42, 0.4)
    hair_style: str = "short"  # short, long, buzz, curly
    hair_rgb: tuple[float, float, float] = (0.24, 0.16, 0.12)
    hairline: float = -0.5
    age: float = 0.2  # 0-1: strength of permanent wrinkles
    clothes_rgb: tuple[float, float, float] = (0.3, 0.35, 0.5)
    texture_seed: int = 0  # skin blotches, moles, chin texture

    def __post_init__(self) -> None:
        if self.hair_style not in HAIR_STYLES:
            raise InputError(f"unknown hair style {self.hair_style!r}: {', '.join(HAIR_STYLES)}")


@dataclass(frozen=True)
class Scene:
    """The nuisance parameters of one frame. The defaults are a clean frontal studio shot.

    Example:
        >>> Scene().yaw, Scene(yaw=20.0).occluder
        (0.0, 'none')
    """

    yaw: float = 0.0  # degrees; positive turns the nose towards the image's right
    pitch: float = 0.0  # positive tilts the face down
    roll: float = 0.0
    scale: float = 1.0  # alignment jitter
    shift_x: float = 0.0  # fraction of the crop
    shift_y: float = 0.0
    gaze_x: float = 0.0  # iris offset, in iris radii
    gaze_y: float = 0.0
    light_azimuth: float = 0.0  # degrees; positive lights from the image's right
    light_elevation: float = 15.0  # positive lights from above
    light_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.6
    exposure: float = 1.0
    shadow: float = 0.0  # strength of a soft cast shadow (0: none)
    shadow_angle: float = 0.0
    background: str = "plain"
    background_rgb: tuple[float, float, float] = (0.6, 0.63, 0.68)
    occluder: str = "none"  # none, glasses, sunglasses, hand, bar
    camera_res: float = 1.0
    blur: float = 0.0  # sigma in pixels of a 128x128 crop
    noise: float = 0.0  # std in 8-bit levels
    jpeg: int = 100  # 100: no JPEG compression
    seed: int = 0  # render-time randomness (background clutter, occluder placement, noise)

    def __post_init__(self) -> None:
        if self.background not in ("plain", "blurred", "clutter"):
            raise InputError(f"unknown background {self.background!r}: plain, blurred, clutter")
        if self.occluder not in OCCLUDERS:
            raise InputError(f"unknown occluder {self.occluder!r}: {', '.join(OCCLUDERS)}")
        if not 0 < self.camera_res <= 1 or not 1 <= self.jpeg <= 100 or self.scale <= 0:
            raise InputError("camera_res must be in (0, 1], jpeg in [1, 100], scale > 0")


# --------------------------------------------------------------------------- sampling


def _clipped_normal(rng: np.random.Generator, std: float) -> float:
    return float(np.clip(rng.normal(0.0, std), -2.5 * std, 2.5 * std)) if std > 0 else 0.0


def _jitter(rgb: Sequence[float], rng: np.random.Generator, amount: float) -> tuple:
    out = np.clip(np.asarray(rgb, dtype=float) * (1 + rng.normal(0, amount, 3)), 0, 1)
    return tuple(round(float(v), 4) for v in out)


def sample_identity(rng: np.random.Generator, preset: Preset | str) -> Identity:
    """Draw a subject: face shape, skin tone from the preset's population, features, hair.

    Example:
        >>> ident = sample_identity(np.random.default_rng(0), "lab-a")
        >>> 0.4 < ident.face_w < 0.6
        True
    """
    preset = _preset(preset)
    w = np.asarray(preset.skin_tones, dtype=float)
    tone = int(rng.choice(len(SKIN_PALETTE), p=w / w.sum()))
    base = np.asarray(SKIN_PALETTE[tone]) / 255 * rng.normal(1, 0.05)  # lighter or darker
    skin = _jitter(base, rng, 0.015)  # and a slight hue shift
    hair_p = np.array([0.3, 0.25, 0.2, 0.1, 0.07, 0.08])
    if tone >= 3:  # darker tones: mostly black or dark brown hair
        hair_p = np.array([0.6, 0.25, 0.07, 0.02, 0.02, 0.04])
    hair = np.asarray(HAIR_PALETTE[int(rng.choice(len(HAIR_PALETTE), p=hair_p))]) / 255
    hair_rgb = _jitter(hair, rng, 0.1)
    lip = np.asarray(skin) * np.array([0.92, 0.62, 0.62]) + np.array([0.05, 0.0, 0.02])
    r = rng.uniform
    return Identity(
        face_w=round(r(0.45, 0.55), 4),
        face_h=round(r(0.62, 0.72), 4),
        jaw=round(r(-0.12, 0.12), 4),
        skin=skin,
        eye_size=round(r(0.85, 1.15), 4),
        eye_spacing=round(r(0.175, 0.215), 4),
        eye_y=round(r(-0.14, -0.1), 4),
        eye_tilt=round(r(-0.008, 0.015), 4),
        iris=_jitter(IRIS_PALETTE[int(rng.integers(len(IRIS_PALETTE)))], rng, 0.1),
        brow_thick=round(r(0.75, 1.3), 4),
        brow_arch=round(r(0.01, 0.04), 4),
        brow_height=round(r(0.85, 1.15), 4),
        brow_rgb=tuple(round(float(v), 4) for v in np.asarray(hair_rgb) * r(0.6, 0.9)),
        nose_len=round(r(0.88, 1.15), 4),
        nose_w=round(r(0.85, 1.25), 4),
        mouth_w=round(r(0.85, 1.15), 4),
        lip_thick=round(r(0.75, 1.3), 4),
        lip_rgb=_jitter(np.clip(lip, 0, 1), rng, 0.05),
        hair_style=str(rng.choice(HAIR_STYLES, p=[0.4, 0.35, 0.1, 0.15])),
        hair_rgb=hair_rgb,
        hairline=round(r(-0.5, -0.38), 4),
        age=round(float(rng.beta(1.5, 3.0)), 4),
        clothes_rgb=tuple(round(float(v), 4) for v in rng.uniform(0.1, 0.8, 3)),
        texture_seed=int(rng.integers(2**31)),
    )


def sample_aus(rng: np.random.Generator, preset: Preset | str) -> np.ndarray:
    """Draw AU intensities (0-5, in :data:`AUS` order): a prototype plus independent variation.

    Example:
        >>> a = sample_aus(np.random.default_rng(1), "lab-a")
        >>> a.shape, bool((a >= 0).all() and (a <= 5).all())
        ((12,), True)
    """
    preset = _preset(preset)
    names = [p for p, _ in preset.prototypes]
    probs = np.asarray([w for _, w in preset.prototypes], dtype=float)
    proto = PROTOTYPES[names[int(rng.choice(len(names), p=probs / probs.sum()))]]
    strength = rng.uniform(0.5, 1.25)  # how intense this display of the prototype is
    out = np.zeros(len(AUS))
    for i, au in enumerate(AUS):
        if au in proto:
            out[i] = rng.normal(proto[au] * strength, 0.7)
        if rng.random() < preset.au_noise:
            out[i] += rng.uniform(0.5, 4.0)
    return np.round(np.clip(out, 0.0, 5.0), 2)


def sample_scene(rng: np.random.Generator, preset: Preset | str) -> Scene:
    """Draw the nuisance parameters of one frame from a preset.

    Example:
        >>> sample_scene(np.random.default_rng(0), "lab-a").background
        'plain'
    """
    p = _preset(preset)
    az = math.radians(rng.uniform(0, 360))
    spread = abs(_clipped_normal(rng, p.light_spread))
    tint = rng.normal(0, p.light_tint, 3)
    tint -= tint.mean() * 0.5
    occluders = {"glasses": p.glasses, "sunglasses": p.sunglasses, "hand": p.hand, "bar": p.bar}
    u, occluder = rng.random(), "none"
    for name, prob in occluders.items():
        if u < prob:
            occluder = name
            break
        u -= prob
    shadow = rng.uniform(0.25, 0.55) if rng.random() < p.shadow_prob else 0.0
    bg = np.asarray(p.background_rgb) / 255 * (1 + rng.normal(0, 0.03, 3))
    return Scene(
        yaw=round(_clipped_normal(rng, p.yaw_std), 3),
        pitch=round(_clipped_normal(rng, p.pitch_std), 3),
        roll=round(_clipped_normal(rng, p.roll_std), 3),
        scale=round(math.exp(_clipped_normal(rng, p.scale_std)), 4),
        shift_x=round(_clipped_normal(rng, p.shift_std), 4),
        shift_y=round(_clipped_normal(rng, p.shift_std), 4),
        gaze_x=round(_clipped_normal(rng, 0.25), 3),
        gaze_y=round(_clipped_normal(rng, 0.1), 3),
        light_azimuth=round(spread * math.cos(az), 3),
        light_elevation=round(15 + spread * math.sin(az), 3),
        light_rgb=tuple(round(float(v), 4) for v in np.clip(1 + tint, 0.5, 1.5)),
        ambient=round(rng.uniform(*p.ambient), 4),
        exposure=round(rng.uniform(*p.exposure), 4),
        shadow=round(shadow, 4),
        shadow_angle=round(rng.uniform(0, 360), 2),
        background=p.background,
        background_rgb=tuple(round(float(v), 4) for v in np.clip(bg, 0, 1)),
        occluder=occluder,
        camera_res=round(rng.uniform(*p.camera_res), 4),
        blur=round(rng.uniform(*p.blur), 4),
        noise=round(rng.uniform(*p.noise), 4),
        jpeg=int(rng.integers(p.jpeg[0], p.jpeg[1] + 1)),
        seed=int(rng.integers(2**31)),
    )


def _preset(preset: Preset | str) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise InputError(f"unknown SynthAU preset {preset!r}; known: {', '.join(PRESETS)}")
    return PRESETS[preset]


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


# --------------------------------------------------------------------------- geometry


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


def _rotation(scene: Scene) -> np.ndarray:
    y, p, r = (math.radians(v) for v in (scene.yaw, scene.pitch, scene.roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _bump_height(bumps: list, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sum of the Gaussian bumps ``(x0, y0, sigma_x, sigma_y, amplitude)`` at points x, y."""
    h = np.zeros_like(x)
    for bx, by, sx, sy, amp in bumps:
        if amp:
            h += amp * np.exp(-0.5 * (((x - bx) / sx) ** 2 + ((y - by) / sy) ** 2))
    return h


class _Camera:
    """Head pose, alignment jitter and the face-units-to-pixels map of one render."""

    def __init__(self, idt: Identity, scene: Scene, canvas: int) -> None:
        self.idt, self.scene, self.canvas = idt, scene, canvas
        self.rot = _rotation(scene)
        self.axes = np.array([idt.face_w, idt.face_h, 0.55])
        self.px = canvas / 2 * scene.scale * _ZOOM  # pixels per face unit

    def surface_z(self, pts: np.ndarray, bumps: list, lift: float = 0.0) -> np.ndarray:
        x, y = pts[:, 0], pts[:, 1] - _CY
        a, b, c = self.axes
        z = c * np.sqrt(np.clip(1 - (x / a) ** 2 - (y / b) ** 2, 0, None))
        return z + _bump_height(bumps, pts[:, 0], pts[:, 1]) + lift

    def project(self, pts: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Face-space points with depths -> canvas pixel coordinates."""
        p = np.stack([pts[:, 0], pts[:, 1] - _CY, z], 1) @ self.rot.T
        xy = (p[:, :2] + np.array([0.0, _CY - _ZOOM_Y])) * _ZOOM
        shift = np.array([self.scene.shift_x, self.scene.shift_y]) * 2
        return (xy * self.scene.scale + shift + 1) * self.canvas / 2

    def depth_map(self, box: tuple[int, int, int, int], bumps: list) -> np.ndarray:
        """Camera-space depth of the head surface over the pixel box (y0, y1, x0, x1)."""
        y0, y1, x0, x1 = box
        shift = np.array([self.scene.shift_x, self.scene.shift_y]) * 2
        s = self.scene.scale * _ZOOM
        # on a grid of half the resolution: shading is smooth, the canvas supersampled
        u = ((np.arange(x0, x1 + 1, 2) + 0.5) * 2 / self.canvas - 1 - shift[0]) / s
        v = ((np.arange(y0, y1 + 1, 2) + 0.5) * 2 / self.canvas - 1 - shift[1]) / s
        u, v = np.meshgrid(u, v + _ZOOM_Y - _CY)
        m = self.rot @ np.diag(1 / self.axes**2) @ self.rot.T
        bq = m[0, 2] * u + m[1, 2] * v
        cq = m[0, 0] * u * u + 2 * m[0, 1] * u * v + m[1, 1] * v * v - 1
        t = (-bq + np.sqrt(np.clip(bq * bq - m[2, 2] * cq, 0, None))) / m[2, 2]
        q = np.stack([u, v, t], -1) @ self.rot  # head-frame coordinates
        depth = t + self.rot[2, 2] * _bump_height(bumps, q[..., 0], q[..., 1] + _CY)
        depth = cv2.resize(depth.astype(np.float32), (2 * depth.shape[1], 2 * depth.shape[0]))
        return depth[: y1 - y0, : x1 - x0]


# --------------------------------------------------------------------------- drawing


def _box(polys: Sequence[np.ndarray], margin: float, shape: tuple[int, int]):
    pts = np.vstack(polys)
    x0, y0 = np.floor(pts.min(0) - margin).astype(int)
    x1, y1 = np.ceil(pts.max(0) + margin).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])
    return (y0, y1, x0, x1) if x1 > x0 and y1 > y0 else None


def _mask(shape, polys, *, fill=True, closed=True, width=1.0, blur=0.0):
    """Anti-aliased mask of polygons (or polylines of ``width`` px) as (float mask, box)."""
    polys = [np.asarray(p, dtype=float) for p in polys]
    box = _box(polys, width + 3 * blur + 2, shape)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = [np.round((p - [x0, y0]) * 16).astype(np.int32) for p in polys]
    if fill:
        cv2.fillPoly(m, pts, 255, cv2.LINE_AA, 4)
    else:
        cv2.polylines(m, pts, closed, 255, max(1, round(width)), cv2.LINE_AA, 4)
    out = m.astype(np.float32) / 255
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    return out, box


def _paint(img, mb, rgb=None, *, alpha=1.0, multiply=None):
    """Blend colour ``rgb`` (or multiply by ``multiply``) into ``img`` where the mask is."""
    if mb is None or alpha <= 0:
        return
    m, (y0, y1, x0, x1) = mb
    m = (m * alpha)[..., None]
    roi = img[y0:y1, x0:x1]
    if multiply is not None:
        roi *= 1 - m * (1 - np.asarray(multiply, dtype=np.float32))
    else:
        roi += m * (np.asarray(rgb, dtype=np.float32) - roi)


def _ellipse(cx, cy, rx, ry, n=24, angle=0.0):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], 1)


def _background(scene: Scene, n: int, rng: np.random.Generator) -> np.ndarray:
    """A plain backdrop with a vertical ramp, or random shapes with texture (maybe blurred)."""
    base = np.asarray(scene.background_rgb, dtype=np.float32)
    ramp = np.linspace(1.06, 0.92, n, dtype=np.float32)[:, None, None]
    img = np.ones((n, n, 3), np.float32) * base * ramp
    if scene.background == "plain":
        return img
    img[:] = rng.uniform(0.15, 0.85, 3)
    for _ in range(int(rng.integers(14, 30))):
        rgb = rng.uniform(0.05, 0.95, 3)
        kind = rng.integers(3)
        c = rng.uniform(-0.1, 1.1, 2) * n
        if kind == 0:
            w, h = rng.uniform(0.05, 0.5, 2) * n
            poly = np.array([[0, 0], [w, 0], [w, h], [0, h]]) + c
            _paint(img, _mask(img.shape[:2], [poly]), rgb)
        elif kind == 1:
            r = rng.uniform(0.03, 0.2) * n
            _paint(img, _mask(img.shape[:2], [_ellipse(c[0], c[1], r, r)]), rgb)
        else:
            line = np.stack([c, c + rng.normal(0, 0.4, 2) * n])
            _paint(img, _stroke(img.shape[:2], line, rng.uniform(1, 0.03 * n)), rgb)
    texture = cv2.resize(rng.normal(0, 0.06, (n // 4, n // 4, 3)).astype(np.float32), (n, n))
    img *= 1 + texture
    if scene.background == "blurred":
        img = cv2.GaussianBlur(img, (0, 0), n * 0.03)
    return img


def _shade(cam: _Camera, depth: np.ndarray, scene: Scene) -> np.ndarray:
    """Lambertian plus a little specular shading of a depth map, under the scene's light."""
    step = 1 / cam.px  # face units per pixel
    gy, gx = np.gradient(depth, step)
    n = np.stack([-gx, -gy, np.ones_like(depth)], -1)  # depth grows towards the camera
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    az, el = math.radians(scene.light_azimuth), math.radians(scene.light_elevation)
    light = np.array([math.sin(az) * math.cos(el), -math.sin(el), math.cos(az) * math.cos(el)])
    half = light + [0, 0, 1]
    half /= np.linalg.norm(half)
    diffuse = np.clip(n @ light, 0, None)
    spec = np.clip(n @ half, 0, None) ** 24
    shade = scene.ambient + (1 - scene.ambient) * 1.15 * diffuse
    return (shade[..., None] + 0.12 * spec[..., None]).astype(np.float32)


def _stroke(shape, line, width: float, blur: float = 0.0):
    """Mask of an open polyline ``width`` pixels wide (see :func:`_mask`)."""
    return _mask(shape, [line], fill=False, closed=False, width=width, blur=blur)


class _Head:
    """Projection helpers shared by the drawing steps of one render."""

    def __init__(self, cam: _Camera, plan: _Plan) -> None:
        self.cam, self.plan, self.px = cam, plan, cam.px
        outline = plan.shapes["outline"]
        scales = (1.0, 0.95, 0.85, 0.7)  # rings of the outline on the ellipsoid surface
        self.rings = [
            np.stack([outline[:, 0] * s, _CY + (outline[:, 1] - _CY) * s], 1) for s in scales
        ]
        self.ring_z = [np.full(len(outline), cam.axes[2] * math.sqrt(1 - s * s)) for s in scales]

    def proj(self, pts, lift: float = 0.0) -> np.ndarray:
        """Face-space points on the surface (plus ``lift``) -> canvas pixels."""
        pts = np.asarray(pts, dtype=float)
        return self.cam.project(pts, self.cam.surface_z(pts, self.plan.bumps, lift))

    def hull(self, scale: float = 1.0) -> np.ndarray:
        """Silhouette of the head (``scale`` > 1: a hair volume around it), in pixels."""
        pts = [
            self.cam.project(
                np.stack([r[:, 0] * scale, _CY + (r[:, 1] - _CY) * scale], 1), z * scale
            )
            for r, z in zip(self.rings, self.ring_z, strict=True)
        ]
        return cv2.convexHull(np.vstack(pts).astype(np.float32))[:, 0]

    def landmarks(self) -> dict[str, np.ndarray]:
        """The named shapes of the plan, the outline and the eye centres, in canvas pixels."""
        shapes = self.plan.shapes
        points = {k: self.proj(v) for k, v in shapes.items() if not k.startswith(("iris", "chin"))}
        points["outline"] = self.hull()
        for side in "lr":
            points[f"eye_centre_{side}"] = points[f"eye_{side}"].mean(0)
        return points


def _light_level(scene: Scene) -> float:
    """Brightness of flat, unshaded parts (hair, neck, ears, hands) under the scene's light."""
    return scene.ambient + (1 - scene.ambient) * 0.8


def _draw_behind(img, head: _Head, idt: Identity, scene: Scene) -> None:
    """Long hair behind the head, neck, clothes and ears."""
    n, a, light = img.shape[0], idt.face_w, _light_level(scene)
    skin = np.asarray(idt.skin, dtype=np.float32)
    cam = head.cam
    if idt.hair_style in ("long", "curly"):
        top = head.hull(_hair_volume(idt) + 0.04)
        top = top[top[:, 1] < cam.project(np.array([[0, _CY]]), np.array([0.0]))[0, 1]]
        drop = 0.95 if idt.hair_style == "long" else 0.35
        lower = cam.project(np.array([[1.25 * a, drop], [-1.25 * a, drop]]), np.zeros(2))
        back = cv2.convexHull(np.vstack([top, lower]).astype(np.float32))[:, 0]
        _paint(img, _mask(img.shape[:2], [back]), np.asarray(idt.hair_rgb) * 0.75 * light)
    # the head turns on the neck: only roll and jitter move the neck and clothes
    still = Scene(roll=scene.roll, scale=scene.scale, shift_x=scene.shift_x, shift_y=scene.shift_y)
    body = _Camera(idt, still, n)
    neck = np.array([[-0.42 * a, 0.25], [0.42 * a, 0.25], [0.5 * a, 1.2], [-0.5 * a, 1.2]])
    _paint(img, _mask(img.shape[:2], [body.project(neck, np.zeros(4))]), skin * 0.72 * light)
    clothes = np.array(
        [
            [-1.6, 1.3],
            [-1.1, 0.7],
            [-0.42 * a, 0.68],
            [0, 0.8],
            [0.42 * a, 0.68],
            [1.1, 0.7],
            [1.6, 1.3],
        ]
    )
    _paint(
        img,
        _mask(img.shape[:2], [body.project(clothes, np.zeros(7))]),
        np.asarray(idt.clothes_rgb) * light,
    )
    for s in (-1, 1):  # ears, slightly behind the face plane
        ear = cam.project(_ellipse(s * a * 0.97, -0.08, 0.055, 0.1), np.full(24, -0.12))
        _paint(img, _mask(img.shape[:2], [ear]), skin * 0.85 * light)


def _hair_volume(idt: Identity) -> float:
    return 1.3 if idt.hair_style == "curly" else 1.08


def _draw_skin(albedo, head: _Head, idt: Identity, box) -> None:
    """Skin colour with blotches, cheek colour, moles, creases and AU17's chin dimpling."""
    y0, y1, x0, x1 = box
    shape, px, plan = albedo.shape[:2], head.px, head.plan
    skin = np.asarray(idt.skin, dtype=np.float32)
    albedo[:] = skin
    # one generator per texture, so that drawing one (AU17's chin) never shifts another
    rng = np.random.default_rng((idt.texture_seed, 0))
    blotch = rng.normal(0, 0.035, (6, 6, 3)).astype(np.float32)
    albedo[y0:y1, x0:x1] *= 1 + cv2.resize(
        blotch, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC
    )
    for s in (-1, 1):  # cheek colour
        cheek = head.proj(_ellipse(s * 0.25, 0.1, 0.09, 0.06))
        _paint(albedo, _mask(shape, [cheek], blur=0.03 * px), idt.lip_rgb, alpha=0.1)
    for _ in range(int(rng.integers(0, 3))):  # moles: identity cues
        p = head.proj([[rng.uniform(-0.3, 0.3), rng.uniform(-0.35, 0.45)]])[0]
        _paint(
            albedo, _mask(shape, [_ellipse(p[0], p[1], 0.008 * px, 0.008 * px, 10)]), skin * 0.45
        )
    # creases: dark soft strokes whose darkness carries the AU intensity
    for line, dark, width in plan.creases:
        if dark > 0.01:
            m = _stroke(shape, head.proj(line), width * px, blur=0.25 * width * px)
            _paint(albedo, m, multiply=1 - min(dark, 0.9) * 0.55)
    if plan.chin_texture > 0.05:  # AU17's "orange peel" chin
        (ccx, ccy), (crx, cry) = plan.shapes["chin"]
        rng = np.random.default_rng((idt.texture_seed, 1))
        q = np.stack(
            [ccx + rng.uniform(-0.8, 0.8, 24) * crx, ccy + rng.uniform(-0.7, 0.7, 24) * cry], 1
        )
        dots = [_ellipse(x, y, 0.006 * px, 0.005 * px, 8) for x, y in head.proj(q)]
        _paint(albedo, _mask(shape, dots, blur=0.004 * px), multiply=1 - 0.2 * plan.chin_texture)


def _draw_eye(albedo, head: _Head, idt: Identity, scene: Scene, side: str) -> None:
    """Sclera, iris, pupil and catch-light clipped to the lids, then the lid lines."""
    shape, px, plan = albedo.shape[:2], head.px, head.plan
    eye = head.proj(plan.shapes[f"eye_{side}"])
    mb = _mask(shape, [eye])
    if mb is None:
        return
    em, (y0, y1, x0, x1) = mb
    patch = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    patch[:] = (0.86, 0.84, 0.8)
    (icx, icy), (ir, _) = plan.shapes[f"iris_{side}"]
    centre = head.proj([[icx + scene.gaze_x * ir * 0.6, icy + scene.gaze_y * ir * 0.4]])[0]
    cx, cy, r = centre[0] - x0, centre[1] - y0, ir * px
    for rad, rgb in ((r, idt.iris), (r * 0.45, (0.03, 0.03, 0.03))):
        _paint(patch, _mask(patch.shape[:2], [_ellipse(cx, cy, rad, rad, 20)]), rgb)
    glint = _ellipse(cx + 0.3 * r, cy - 0.3 * r, 0.18 * r, 0.18 * r, 10)
    _paint(patch, _mask(patch.shape[:2], [glint]), (0.95, 0.95, 0.95), alpha=0.8)
    albedo[y0:y1, x0:x1] += em[..., None] * (patch - albedo[y0:y1, x0:x1])
    upper = plan.shapes[f"upper_lid_{side}"]
    _paint(albedo, _stroke(shape, head.proj(upper), 0.011 * px), (0.08, 0.06, 0.05), alpha=0.9)
    fold = _stroke(shape, head.proj(upper + [0, -0.018]), 0.006 * px, blur=0.004 * px)
    _paint(albedo, fold, multiply=0.8)
    lower = _stroke(shape, head.proj(plan.shapes[f"lower_lid_{side}"]), 0.005 * px)
    _paint(albedo, lower, multiply=0.7)


def _draw_features(albedo, head: _Head, idt: Identity) -> None:
    """Brows, nostrils, teeth and lips."""
    shape, px, plan = albedo.shape[:2], head.px, head.plan
    for side in "lr":
        brow = head.proj(plan.shapes[f"brow_{side}"], 0.005)
        _paint(albedo, _mask(shape, [brow], blur=0.003 * px), idt.brow_rgb, alpha=0.92)
        nostril = head.proj(plan.shapes[f"nostril_{side}"])
        _paint(albedo, _mask(shape, [nostril], blur=0.003 * px), np.asarray(idt.skin) * 0.3)
    if plan.teeth is not None:
        _paint(albedo, _mask(shape, [head.proj(plan.teeth)]), (0.9, 0.88, 0.8))
    for part in ("upper_lip", "lower_lip"):
        lip = head.proj(plan.shapes[part])
        _paint(albedo, _mask(shape, [lip], blur=0.002 * px), idt.lip_rgb, alpha=0.9)
    _paint(albedo, _stroke(shape, head.proj(plan.shapes["seam"]), 0.007 * px), multiply=0.55)


def _draw_hair_cap(img, head: _Head, idt: Identity, scene: Scene) -> None:
    """Hair on top of the head: the hair volume above the hairline, with streaks."""
    n, px = img.shape[0], head.px
    hx = np.linspace(-1.15 * idt.face_w, 1.15 * idt.face_w, 15)
    hy = idt.hairline + 0.22 * (hx / idt.face_w) ** 2 - 0.04 * (idt.hair_style == "curly")
    line = head.proj(np.stack([hx, hy], 1), 0.01)
    (lx, ly), (rx, ry) = line[0], line[-1]
    up = np.array([[rx + n, ry], [rx + n, -2.0 * n], [lx - n, -2.0 * n], [lx - n, ly]])
    above = _mask(img.shape[:2], [np.vstack([line, up])], blur=0.006 * px)
    volume = _mask(img.shape[:2], [head.hull(_hair_volume(idt))])
    if above is None or volume is None:
        return
    cover = np.zeros((n, n), np.float32)
    (am, (a0, a1, b0, b1)), (vm, (v0, v1, w0, w1)) = above, volume
    cover[a0:a1, b0:b1] = am
    inside = np.zeros((n, n), np.float32)
    inside[v0:v1, w0:w1] = vm
    cover *= inside * (0.55 if idt.hair_style == "buzz" else 1.0)
    rng = np.random.default_rng((idt.texture_seed, 2))
    streaks = cv2.blur(rng.normal(0, 0.25, (n, n)).astype(np.float32), (3, 9))[..., None]
    fall = np.linspace(1.15, 0.85, n, dtype=np.float32)[:, None, None]
    colour = np.asarray(idt.hair_rgb, dtype=np.float32) * _light_level(scene) * (1 + streaks) * fall
    img += cover[..., None] * (colour - img)


def _draw_face(img, head: _Head, idt: Identity, scene: Scene) -> None:
    """Draw the head onto ``img``: what lies behind, the shaded face, the hair on top."""
    _draw_behind(img, head, idt, scene)
    mb = _mask(img.shape[:2], [head.hull()])
    if mb is None:  # pushed off the canvas
        return
    face_mask, box = mb
    # the face: albedo (skin, creases, features), shaded by the depth map, composited
    albedo = np.empty_like(img)  # features may reach past the face box: fill it all
    _draw_skin(albedo, head, idt, box)
    for side in "lr":
        _draw_eye(albedo, head, idt, scene, side)
    _draw_features(albedo, head, idt)
    y0, y1, x0, x1 = box
    shade = _shade(head.cam, head.cam.depth_map(box, head.plan.bumps), scene)
    roi = img[y0:y1, x0:x1]
    roi += face_mask[..., None] * (albedo[y0:y1, x0:x1] * shade - roi)
    _draw_hair_cap(img, head, idt, scene)


def _occlude(img, scene: Scene, idt: Identity, pts: dict, rng: np.random.Generator) -> None:
    """Draw the scene's occluder (glasses, sunglasses, a hand, a bar) over the face."""
    n = img.shape[0]
    if scene.occluder in ("glasses", "sunglasses"):
        frame = np.asarray(rng.uniform(0.02, 0.35, 3), dtype=np.float32)
        rims = []
        for side in "lr":
            eye = pts[f"eye_{side}"]
            c = eye.mean(0)
            w = np.ptp(eye[:, 0]) * 0.8 + 2
            rim = _ellipse(c[0], c[1] + 0.1 * w, w, w * 0.62, 24, math.radians(scene.roll))
            rims.append(rim)
            if scene.occluder == "sunglasses":
                _paint(img, _mask(img.shape[:2], [rim]), (0.04, 0.04, 0.05), alpha=0.88)
        _paint(img, _mask(img.shape[:2], rims, fill=False, width=0.012 * n), frame)
        bridge = np.stack([rims[0][0], rims[1][len(rims[1]) // 2]])
        _paint(img, _stroke(img.shape[:2], bridge, 0.01 * n), frame)
    elif scene.occluder == "hand":
        mouth = pts["mouth"].mean(0)
        c = mouth + rng.normal(0, 0.08, 2) * n + [rng.choice([-1, 1]) * 0.12 * n, 0.06 * n]
        ang = rng.uniform(-0.8, 0.8) + (np.pi / 2 if rng.random() < 0.5 else 0)
        skin = np.asarray(idt.skin, dtype=np.float32) * 0.95 * _light_level(scene)
        palm = _ellipse(c[0], c[1], 0.14 * n, 0.11 * n, 24, ang)
        _paint(img, _mask(img.shape[:2], [palm]), skin)
        d = np.array([math.cos(ang), math.sin(ang)])
        o = np.array([-d[1], d[0]])
        for j in range(4):
            base = c + d * 0.1 * n + o * (j - 1.5) * 0.055 * n
            tip = base + d * rng.uniform(0.12, 0.17) * n
            _paint(img, _stroke(img.shape[:2], np.stack([base, tip]), 0.05 * n), skin)
            gap = np.stack([base, tip]) + o * 0.027 * n
            _paint(img, _stroke(img.shape[:2], gap, 0.004 * n, blur=0.003 * n), multiply=0.7)
    elif scene.occluder == "bar":
        c = rng.uniform(0.2, 0.8, 2) * n
        d = rng.normal(0, 1, 2)
        d /= np.linalg.norm(d)
        line = np.stack([c - d * 2 * n, c + d * 2 * n])
        width = rng.uniform(0.06, 0.14) * n
        _paint(img, _stroke(img.shape[:2], line, width), rng.uniform(0.05, 0.9, 3))


def _degrade(img: np.ndarray, scene: Scene, size: int, rng: np.random.Generator) -> np.ndarray:
    """Camera: shadow, light colour and exposure, resolution, blur, noise, JPEG."""
    n = img.shape[0]
    if scene.shadow > 0:
        ang = math.radians(scene.shadow_angle)
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n - 0.5
        off = rng.uniform(-0.25, 0.25)
        side = np.clip(((xx * math.cos(ang) + yy * math.sin(ang)) - off) / 0.06 + 0.5, 0, 1)
        img *= (1 - scene.shadow * side)[..., None]
    img *= np.asarray(scene.light_rgb, dtype=np.float32) * scene.exposure
    out = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    low = max(8, round(size * scene.camera_res))
    if low < size:
        out = cv2.resize(
            cv2.resize(out, (low, low), interpolation=cv2.INTER_AREA),
            (size, size),
            interpolation=cv2.INTER_LINEAR,
        )
    sigma = scene.blur * size / 128
    if sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if scene.noise > 0:
        out = out + rng.normal(0, scene.noise / 255, out.shape).astype(np.float32)
    out = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    if scene.jpeg < 100:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)


def _head(idt: Identity, aus, scene: Scene, size: int) -> _Head:
    if not 16 <= size <= 1024:
        raise InputError(f"size must be between 16 and 1024 pixels, got {size}")
    return _Head(_Camera(idt, scene, size * _SS), _plan(idt, _au_vector(aus)))


def render_face(
    identity: Identity,
    aus_intensity: Mapping[int, float] | Sequence[float] | np.ndarray,
    scene: Scene | None = None,
    size: int = 128,
) -> np.ndarray:
    """Render one face crop.

    Args:
        identity: the subject (:func:`sample_identity`, or an :class:`Identity`).
        aus_intensity: AU intensities 0-5, as ``{au_number: intensity}`` (missing AUs are 0)
            or a vector in :data:`AUS` order.
        scene: pose, light, background, occluder and camera (:func:`sample_scene`); the
            default is a clean frontal studio shot.
        size: side of the square crop in pixels.

    Returns:
        ``(size, size, 3)`` uint8 RGB image.

    Example:
        >>> img = render_face(Identity(), {12: 5.0, 6: 4.0}, Scene(yaw=15.0), size=64)
        >>> img.shape
        (64, 64, 3)
    """
    scene = scene or Scene()
    head = _head(identity, aus_intensity, scene, size)
    rng = np.random.default_rng(scene.seed)
    img = _background(scene, size * _SS, rng)
    _draw_face(img, head, identity, scene)
    _occlude(img, scene, identity, head.landmarks(), rng)
    return _degrade(img, scene, size, rng)


def face_landmarks(
    identity: Identity,
    aus_intensity: Mapping[int, float] | Sequence[float] | np.ndarray,
    scene: Scene | None = None,
    size: int = 128,
) -> dict[str, np.ndarray]:
    """Pixel coordinates (x, y) of the rendered landmarks, as polylines keyed by part.

    Keys: ``outline``, ``brow_l``/``brow_r``, ``eye_l``/``eye_r`` (lid contours),
    ``upper_lid_*``, ``lower_lid_*``, ``eye_centre_*``, ``nostril_*``, ``upper_lip``,
    ``lower_lip``, ``mouth`` (outer lip contour), ``seam``. ``_l`` is the image's left.

    Example:
        >>> pts = face_landmarks(Identity(), {}, size=128)
        >>> bool(pts["brow_l"][:, 1].mean() < pts["eye_l"][:, 1].mean() < pts["mouth"][:, 1].mean())
        True
    """
    head = _head(identity, aus_intensity, scene or Scene(), size)
    return {k: v / _SS for k, v in head.landmarks().items()}


# --------------------------------------------------------------------------- datasets


def _stream(seed: int, preset: str, *ids: int) -> np.random.Generator:
    return np.random.default_rng((seed, zlib.crc32(preset.encode()), *ids))


def _subject_splits(n: int, splits: Sequence[float], seed: int, preset: str) -> list[str]:
    order = _stream(seed, preset, 2**31 - 1).permutation(n)
    bounds = np.round(np.cumsum(splits) / np.sum(splits) * n).astype(int)
    names = np.empty(n, dtype=object)
    start = 0
    for name, end in zip(("train", "val", "test"), bounds, strict=True):
        names[order[start:end]] = name
        start = end
    return list(names)


def _render_subject(job: tuple) -> list[dict[str, object]]:
    out_dir, preset, subject, frames, size, seed, split = job
    images = Path(out_dir) / "images"
    rng = _stream(seed, preset.name, subject)
    idt = sample_identity(rng, preset)
    sid = f"{preset.name}_s{subject:03d}"
    rows = []
    for frame in range(frames):
        frng = _stream(seed, preset.name, subject, frame, 1)
        aus = sample_aus(frng, preset)
        scene = sample_scene(frng, preset)
        rel = f"images/{sid}_f{frame:03d}.png"
        path = images / Path(rel).name
        if not path.exists():  # resuming: an image is only ever written whole
            img = render_face(idt, aus, scene, size)
            with atomic_path(path, overwrite=True) as tmp:
                if not cv2.imwrite(str(tmp), img[..., ::-1]):
                    raise OSError(f"could not write {path}")
        row: dict[str, object] = {
            "path": rel,
            "subject": sid,
            "domain": preset.name,
            "split": split,
            "video": sid,
            "frame": frame,
        }
        row.update({au_name(a): int(v >= LABEL_THRESHOLD) for a, v in zip(AUS, aus, strict=True)})
        row.update({f"{au_name(a)}_r": f"{v:.2f}" for a, v in zip(AUS, aus, strict=True)})
        sc = asdict(scene)
        for key in (
            "yaw",
            "pitch",
            "roll",
            "scale",
            "shift_x",
            "shift_y",
            "light_azimuth",
            "light_elevation",
            "ambient",
            "exposure",
            "shadow",
            "background",
            "occluder",
            "camera_res",
            "blur",
            "noise",
            "jpeg",
        ):
            row[key] = sc[key]
        row["light_rgb"] = " ".join(f"{v:.3f}" for v in scene.light_rgb)
        row["skin_rgb"] = " ".join(f"{v:.3f}" for v in idt.skin)
        row["hair_style"] = idt.hair_style
        rows.append(row)
    return rows


def render_dataset(
    out_dir: str | Path,
    preset: str | Preset,
    *,
    subjects: int,
    frames_per_subject: int,
    size: int = 128,
    seed: int = 0,
    splits: Sequence[float] = (0.6, 0.2, 0.2),
    overwrite: bool = False,
    workers: int = 1,
    progress: bool = False,
) -> Path:
    """Render a SynthAU dataset: PNG crops under ``out_dir/images/`` and ``manifest.csv``.

    Subjects are split train / val / test (subject-disjoint, deterministic from ``seed``).
    The manifest is written last and atomically, so a folder with a manifest is complete.
    An interrupted run with the same arguments resumes, keeping the images it finished;
    an existing dataset (or one made with other arguments) is only replaced when
    ``overwrite`` is true.

    Args:
        out_dir: output folder (created).
        preset: domain: a key of :data:`PRESETS`, or a :class:`Preset` of your own (e.g.
            ``dataclasses.replace(PRESETS["lab-a"], name="lab-a-noisy", noise=(8, 12))``).
        subjects: number of subjects; ids are ``{preset}_s000``, ...
        frames_per_subject: frames rendered per subject.
        size: crop side in pixels.
        seed: master seed; identities and frames use their own streams of it.
        splits: train / val / test proportions of subjects.
        overwrite: replace an existing dataset in ``out_dir``.
        workers: processes to render with; the output does not depend on it.
        progress: show a tqdm progress bar on stderr.

    Returns:
        The path of ``manifest.csv``.

    Example:
        >>> render_dataset("wild-ds", "wild", subjects=10, frames_per_subject=5)  # doctest: +SKIP
        PosixPath('wild-ds/manifest.csv')
    """
    preset = _preset(preset)
    for name, value, low in (
        ("subjects", subjects, 1),
        ("frames_per_subject", frames_per_subject, 1),
        ("workers", workers, 1),
        ("seed", seed, 0),
    ):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    if not 16 <= size <= 1024:
        raise InputError(f"size must be between 16 and 1024 pixels, got {size}")
    if len(splits) != 3 or min(splits) < 0 or sum(splits) <= 0:
        raise InputError(f"splits must be three non-negative proportions, got {tuple(splits)}")
    out_dir = Path(out_dir)
    manifest = out_dir / "manifest.csv"
    images, params_path = out_dir / "images", out_dir / "synthau.json"
    params = {
        "preset": asdict(preset),
        "subjects": subjects,
        "frames_per_subject": frames_per_subject,
        "size": size,
        "seed": seed,
        "splits": [float(s) for s in splits],
    }
    params = json.loads(json.dumps(params))  # tuples -> lists, as read back
    previous = json.loads(params_path.read_text()) if params_path.is_file() else None
    resumable = previous == params and not manifest.exists()
    if out_dir.is_dir() and any(out_dir.iterdir()) and not resumable:
        if not overwrite:
            raise OutputExistsError(
                f"{out_dir} is not empty (use --overwrite / overwrite=True to replace a dataset)"
            )
        manifest.unlink(missing_ok=True)  # start afresh: drop images from other arguments
        for p in images.glob("*.png"):
            p.unlink()
    images.mkdir(parents=True, exist_ok=True)
    with atomic_path(params_path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(params, indent=1) + "\n")

    split_of = _subject_splits(subjects, splits, seed, preset.name)
    jobs = [
        (str(out_dir), preset, s, frames_per_subject, size, seed, split_of[s])
        for s in range(subjects)
    ]
    bar = tqdm(
        total=subjects * frames_per_subject,
        unit="img",
        desc=f"synth {preset.name}",
        disable=not progress,
    )
    rows: list[dict[str, object]] = []
    if workers == 1:
        results = map(_render_subject, jobs)
        pool = None
    else:
        import multiprocessing

        # fork is fast and safe on Linux; macOS and Windows need spawn
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        pool = multiprocessing.get_context(method).Pool(workers)
        results = pool.imap(_render_subject, jobs)
    try:
        for subject_rows in results:
            rows.extend(subject_rows)
            bar.update(len(subject_rows))
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    return write_manifest(manifest, rows, overwrite=True)
