"""SynthAU's 2.5D camera: the head ellipsoid plus bumps as a depth surface, head pose as a
rotation, the orthographic projection onto the supersampled canvas (:class:`_Camera`), the
projected head of one render (:class:`_Head`) and the rendered landmarks
(:func:`face_landmarks`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from d2ca.data.synth.geometry import _CY, _au_vector, _Plan, _plan
from d2ca.data.synth.sampling import Identity, Scene
from d2ca.errors import InputError

_SS = 2  # supersampling factor of the internal canvas
_ZOOM, _ZOOM_Y = 1.3, 0.05  # an aligned crop: face units around y = 0.05 magnified 1.3x


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


def _head(idt: Identity, aus, scene: Scene, size: int) -> _Head:
    if not 16 <= size <= 1024:
        raise InputError(f"size must be between 16 and 1024 pixels, got {size}")
    return _Head(_Camera(idt, scene, size * _SS), _plan(idt, _au_vector(aus)))


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
