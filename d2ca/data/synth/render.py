"""SynthAU's drawing: anti-aliased masks and painting, backgrounds, shading, the head's
layers (behind the head, skin and creases, eyes, features, hair), occluders, the camera's
degradations (shadow, exposure, resolution, blur, noise, JPEG) and :func:`render_face`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from d2ca.data.synth.camera import _SS, _Camera, _Head, _head
from d2ca.data.synth.geometry import _CY
from d2ca.data.synth.sampling import Identity, Scene


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
