"""SynthAU's random draws: the parameters of a subject (:class:`Identity`), of a frame's
nuisance factors (:class:`Scene`) and its AU intensities, sampled from a domain
:class:`~d2ca.data.synth.presets.Preset` by :func:`sample_identity`, :func:`sample_scene` and
:func:`sample_aus`; :data:`AUS` is the order of the rendered AUs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from d2ca.aus import DATASET_AUS
from d2ca.data.synth.presets import (
    HAIR_PALETTE,
    IRIS_PALETTE,
    PRESETS,
    PROTOTYPES,
    SKIN_PALETTE,
    Preset,
)
from d2ca.errors import InputError

AUS: tuple[int, ...] = DATASET_AUS["synthau"]  # (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
OCCLUDERS = ("none", "glasses", "sunglasses", "hand", "bar")
HAIR_STYLES = ("short", "long", "buzz", "curly")


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
