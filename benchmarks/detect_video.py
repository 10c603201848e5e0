"""Benchmark of ``D2CA.detect_aus`` on a 640x360 video with one face (CPU by default, or
``--device cuda``; ``auto`` is the GPU when there is one).

Videos (``--video``), both rendered from skimage's astronaut photograph:
  * ``realistic`` (default): her head and shoulders, a face box of about 190x245 px (160 to
    240 px wide), cut out with a soft matte over a blurred photograph (skimage's coffee),
    moving smoothly with four quick moves, leaning in and out (scale -15 % to +20 %), rolling
    (up to 14 deg) and turning in depth (the perspective of a plane turned by up to 25 deg
    about the vertical axis), with motion blur on fast frames, sensor noise, brightness
    flicker, JPEG compression (quality 70) and the mp4v codec; seeded (``--seed``);
  * ``rendered-drift``: the photograph at 300x300 drifting left and right over grey (the video
    of the earlier figures in docs/performance.md, and of ``corpus.py``).

Measures, in one run on the same frames:
  * end-to-end ``detect_aus`` frames/s with tracking (O-Net between full detections every
    ``K`` frames, for each ``--keyframe-intervals``) and with full MTCNN on every frame;
  * end-to-end per-frame ``detect_aus`` frames/s (decode, MTCNN, alignment, AU network,
    rows) against bare MTCNN detection (``facenet_pytorch.MTCNN.detect`` with the same
    settings on frames already decoded, ``--bare-batches`` frames per call: one and eight by
    default, the pipeline's 8 on a CPU; on a GPU the pipeline passes 32; the ratios use the
    fastest), and MTCNN at its default ``min_face_size=20`` (at the first of those batches)
    for reference;
  * landmarks against the truth: the photograph's transform in every frame is known, so each
    frame's true landmarks are the photograph's own (MTCNN's on clean, upright renderings at
    three scales and four sub-pixel offsets, averaged) mapped through that transform. Reported
    as fractions of the true inter-ocular distance (median and 95th percentile over all five
    landmarks of all frames): tracked and per-frame detection against the truth, tracked
    against per-frame, and per-frame detection against itself on a copy of the video that
    differs only in its sensor noise (and hence its compression): MTCNN's own instability.
    Also, per ``K``: full detections, fall-backs from a lost track, CPU ms of a followed
    and of a fully detected frame (tracker alone) and the error by frames since the last
    full detection;
  * AU-network throughput on aligned crops (faces/s) at batch 1 and 64, default config;
  * peak resident memory of ``detect_aus`` on the video and on one ten times longer, each in
    a fresh subprocess (``ru_maxrss``);
  * the device: on CUDA the GPU's name, memory and the torch, CUDA and cuDNN versions.

``--no-landmarks`` skips the landmark study (the speed figures only: on a GPU it takes longer
than they do), ``--no-memory`` the memory runs; ``--batch-size`` is ``detect_aus``'s;
``--save-video`` keeps the rendered video (for ``detect_phases.py --video-file``).

The networks are randomly initialised with the default 128x128 config (speed depends on the
architecture only). Throughputs are reported from wall-clock time (best of ``--repeats``)
and from the process's CPU time; on a shared machine the CPU-time figures are the steadier
ones, and ``--threads 1`` avoids thread oversubscription.

Run:  python benchmarks/detect_video.py [--video realistic|rendered-drift] [--frames 472]
          [--seed 0] [--repeats 3] [--threads 1] [--device cpu] [--keyframe-intervals 5 10 25]
          [--batch-size 32] [--bare-batches 1 8] [--no-memory] [--no-landmarks] [--save-video P]
          [--json docs/performance/detect_video_realistic_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

WIDTH, HEIGHT, FPS = 640, 360, 30.0


def write_video(path: Path, frames: int) -> Path:
    """The astronaut's head and shoulders drifting left and right over a grey background."""
    import skimage.data

    face = cv2.resize(skimage.data.astronaut(), (300, 300))[..., ::-1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i in range(frames):
        frame = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
        x = int(170 + 150 * np.sin(i / 25.0))
        y = int(20 + 10 * np.sin(i / 9.0))
        frame[y : y + 300, x : x + 300] = face[: HEIGHT - y]
        writer.write(frame)
    writer.release()
    return path


def drift_transforms(frames: int) -> np.ndarray:
    """``(frames, 3, 3)`` homographies from the 512x512 photograph to :func:`write_video`'s
    frames (``cv2.resize`` puts source pixel ``p`` at ``(p + 0.5) r - 0.5``)."""
    r = 300 / 512
    shifts = [
        (int(170 + 150 * np.sin(i / 25.0)), int(20 + 10 * np.sin(i / 9.0))) for i in range(frames)
    ]
    return np.array(
        [[[r, 0, x + r / 2 - 0.5], [0, r, y + r / 2 - 0.5], [0, 0, 1]] for x, y in shifts]
    )


# ---------------------------------------------------------------- the realistic video
PHOTO_FACE = (224.0, 116.0)  # centre of MTCNN's face box in the 512x512 photograph
FACE_SCALE = 2.3  # photo -> frame magnification: a face box of about 190x245 px
# quick moves of the head: start (s), duration (s), dx, dy (px); the motion-blurred frames
QUICK_MOVES = ((3.5, 0.3, 60, -10), (7.2, 0.25, -80, 6), (11.0, 0.3, 50, 6), (13.6, 0.2, -40, -6))


def head_motion(frames: int, seed: int) -> np.ndarray:
    """``(frames, 5)`` pose of the photograph per frame: x, y of the face centre (px),
    magnification, roll and yaw (deg). Slow sways with seeded phases, plus QUICK_MOVES."""
    t = np.arange(frames) / FPS
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, 9)

    def wave(amplitude: float, period: float, k: int) -> np.ndarray:
        return amplitude * np.sin(2 * np.pi * t / period + phase[k])

    x = 320 + wave(80, 9.0, 0) + wave(20, 2.3, 1)
    y = 180 + wave(8, 5.0, 2) + wave(4, 1.3, 3)  # nods
    for start, duration, dx, dy in QUICK_MOVES:
        s = np.clip((t - start) / duration, 0, 1)
        x, y = x + dx * s * s * (3 - 2 * s), y + dy * s * s * (3 - 2 * s)  # smoothstep
    scale = FACE_SCALE * np.exp(wave(0.15, 7.0, 4) + wave(0.03, 1.9, 5))  # leaning in and out
    roll = wave(11, 6.0, 6) + wave(3, 1.7, 7)
    yaw = wave(25, 4.5, 8)
    return np.stack([x, y, scale, roll, yaw], axis=1)


def pose_homography(x: float, y: float, scale: float, roll: float, yaw: float) -> np.ndarray:
    """Photo -> frame: magnify about the face centre, turn the photo's plane by ``yaw`` about
    the vertical axis (seen from three face-widths away), roll, and move the face to (x, y)."""
    to_face = np.array([[1, 0, -PHOTO_FACE[0]], [0, 1, -PHOTO_FACE[1]], [0, 0, 1]])
    phi, a = np.radians(yaw), np.radians(roll)
    distance = 3 * 90 * scale  # the face box is about 90 photo pixels wide
    turn = np.array([[np.cos(phi), 0, 0], [0, 1, 0], [np.sin(phi) / distance, 0, 1]])
    rotate = np.array([[np.cos(a), -np.sin(a), x], [np.sin(a), np.cos(a), y], [0, 0, 1]])
    return rotate @ turn @ np.diag([scale, scale, 1.0]) @ to_face


def _layers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The photograph, its head-and-shoulders matte, and the blurred background (float32)."""
    import skimage.data

    matte = np.zeros((512, 512), np.float32)
    cv2.ellipse(matte, (226, 98), (76, 92), 0, 0, 360, 1.0, -1)  # head and hair
    neck = [[150, 150], [296, 150], [312, 290], [370, 512], [15, 512], [108, 290]]
    cv2.fillPoly(matte, [np.array(neck, np.int32)], 1.0)  # neck ring and suit
    matte = cv2.GaussianBlur(matte, (0, 0), 4)
    coffee = skimage.data.coffee()  # 400 x 600
    coffee = cv2.resize(coffee, (WIDTH, 427), interpolation=cv2.INTER_AREA)[33 : 33 + HEIGHT]
    background = cv2.GaussianBlur(coffee.astype(np.float32), (0, 0), 3)  # out of focus
    return skimage.data.astronaut().astype(np.float32), matte, background


def _compose(
    layers: tuple[np.ndarray, np.ndarray, np.ndarray],
    homography: np.ndarray,
    blur: np.ndarray | None = None,
) -> np.ndarray:
    """The photograph warped into the frame over the background (float32 RGB)."""
    photo, matte, background = layers
    size = (WIDTH, HEIGHT)
    face = cv2.warpPerspective(photo, homography, size, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpPerspective(matte, homography, size)
    if blur is not None:
        face, alpha = cv2.filter2D(face, -1, blur), cv2.filter2D(alpha, -1, blur)
    return background + alpha[..., None] * (face - background)


def motion_blur(vx: float, vy: float, exposure: float = 0.5) -> np.ndarray | None:
    """A line kernel along the image motion (px per frame) over ``exposure`` of a frame."""
    length = exposure * float(np.hypot(vx, vy))
    if length < 1.5:
        return None
    n = int(np.ceil(length)) | 1  # odd: the kernel is centred on the frame's pose
    kernel = np.zeros((n, n), np.float32)
    ux, uy = np.array([vx, vy]) / np.hypot(vx, vy)
    for s in np.linspace(-length / 2, length / 2, 4 * n):
        row, col = (np.clip(round(n // 2 + s * u), 0, n - 1) for u in (uy, ux))
        kernel[row, col] += 1
    return kernel / kernel.sum()


def write_realistic_video(path: Path, frames: int, seed: int = 0, noise: int = 0) -> np.ndarray:
    """Render the realistic video; ``noise`` seeds only the sensor noise (a copy with another
    ``noise`` differs in nothing else). Returns its ``(frames, 3, 3)`` photo -> frame
    homographies."""
    layers = _layers()
    pose = head_motion(frames, seed)
    homographies = np.stack([pose_homography(*p) for p in pose])
    vx, vy = np.gradient(pose[:, 0]), np.gradient(pose[:, 1])  # face centre, px per frame
    scene, sensor = np.random.default_rng(seed), np.random.default_rng((seed, noise, 1))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i, homography in enumerate(homographies):
        frame = _compose(layers, homography, motion_blur(vx[i], vy[i]))
        gain = 1 + 0.02 * np.sin(2 * np.pi * i / (0.9 * FPS)) + 0.01 * scene.standard_normal()
        grain = sensor.standard_normal((HEIGHT, WIDTH, 4), dtype=np.float32)
        frame = frame * gain + 3.0 * grain[..., :3] + 2.0 * grain[..., 3:]  # colour, luma
        bgr = np.clip(frame, 0, 255).astype(np.uint8)[..., ::-1]
        _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 70])
        writer.write(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    writer.release()
    return homographies


def make_video(kind: str, path: Path, frames: int, seed: int = 0, noise: int = 0) -> np.ndarray:
    """Write a ``--video`` video; returns its photo -> frame homographies."""
    if kind == "rendered-drift":
        write_video(path, frames)
        return drift_transforms(frames)
    return write_realistic_video(path, frames, seed, noise)


def read_frames(path: Path) -> list[np.ndarray]:
    from d2ca.data.media import iter_video

    return [frame.image for frame in iter_video(path)]


def best_rates(
    runs: dict[str, tuple[int, Callable[[], None]]], repeats: int
) -> dict[str, tuple[float, float]]:
    """Items per second of each run, (wall clock, CPU time), from its fastest repeat.

    The runs are interleaved (A B C, A B C, ...) so that load from other processes on a
    shared machine affects them alike.
    """
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (_, run) in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return {
        name: (items / min(walls[name]), items / min(cpus[name]))
        for name, (items, _) in runs.items()
    }


def mtcnn_run(
    frames: list[np.ndarray], device: str, min_face_size: int, batch: int = 1
) -> Callable[[], None]:
    """Bare facenet-pytorch MTCNN on decoded frames, ``batch`` frames per call."""
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(min_face_size=min_face_size, keep_all=True, device=device)
    mtcnn.detect(frames[0], landmarks=True)  # warm-up

    def run() -> None:
        for i in range(0, len(frames), batch):
            mtcnn.detect(np.stack(frames[i : i + batch]), landmarks=True)

    return run


def pipeline_run(
    path: Path,
    misses: list[int],
    device: str,
    keyframe_interval: int | None = None,
    batch_size: int = 32,
) -> Callable[[], None]:
    """``D2CA.detect_aus`` end to end on the video file (decoding included); per-frame
    detection, or tracking with full detections ``keyframe_interval`` frames apart. Each run
    appends to ``misses`` the number of frames in which no face was found."""
    pipeline = _pipeline(device)
    tracking = {
        "tracking": keyframe_interval is not None,
        "keyframe_interval": keyframe_interval or 1,
        "batch_size": batch_size,
    }

    def run() -> None:
        result = pipeline.detect_aus(path, progress=False, **tracking)
        misses.append(sum(not row.success for row in result.rows))

    return run


def _pipeline(device: str) -> Any:  # d2ca is imported late: after --threads
    from d2ca.config import D2CAConfig
    from d2ca.inference.pipeline import D2CA
    from d2ca.models import D2CAModel

    pipeline = D2CA(D2CAModel(D2CAConfig()).to(device))
    pipeline.detect_aus(np.zeros((HEIGHT, WIDTH, 3), np.uint8), progress=False)  # warm-up
    return pipeline


# ---------------------------------------------------------------- landmarks against the truth
def transform(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 2)`` points through a ``3 x 3`` homography."""
    p = np.c_[points, np.ones(len(points))] @ homography.T
    return p[:, :2] / p[:, 2:]


def reference_landmarks(detector: Any, kind: str) -> tuple[np.ndarray, float]:
    """The photograph's five landmarks, in its own pixels: MTCNN's on clean, upright
    renderings of the video's scene (three magnifications, four sub-pixel offsets) mapped
    back and averaged. Also their spread: the median distance of one rendering's landmarks
    from the average, as a fraction of the inter-ocular distance."""
    if kind == "rendered-drift":
        import skimage.data

        photo = skimage.data.astronaut().astype(np.float32)
        layers = (photo, np.ones((512, 512), np.float32), np.full((HEIGHT, WIDTH, 3), 90.0))
        x, y, scale = 320.0, 90.0, 300 / 512
    else:
        layers, (x, y, scale) = _layers(), (320.0, 180.0, FACE_SCALE)
    found = []
    for m in (0.9, 1.0, 1.1):
        for dx, dy in ((0, 0), (0.5, 0.25), (1.3, -0.7), (-2.6, 1.9)):
            h = pose_homography(x + dx, y + dy, scale * m, 0.0, 0.0)
            image = np.clip(_compose(layers, h), 0, 255).astype(np.uint8)
            face = detector.detect([image])[0][0]  # the only face: the clean scene has one
            found.append(transform(np.linalg.inv(h), face.landmarks))
    found = np.stack(found)
    mean = found.mean(axis=0)
    spread = np.linalg.norm(found - mean, axis=2) / np.linalg.norm(mean[0] - mean[1])
    return mean, float(np.median(spread))


def _landmarks(per_frame: list[list[Any]], truth: np.ndarray) -> np.ndarray:
    """``(frames, 5, 2)``: in each frame, the landmarks of the face nearest the true one
    (NaN where no face lies within an inter-ocular distance of it)."""
    out = np.full(truth.shape, np.nan)
    for i, (faces, true) in enumerate(zip(per_frame, truth, strict=True)):
        faces = [face[1] if isinstance(face, tuple) else face for face in faces]  # (id, face)
        near = [np.linalg.norm(f.landmarks.mean(0) - true.mean(0)) for f in faces]
        if near and min(near) < np.linalg.norm(true[0] - true[1]):
            out[i] = faces[int(np.argmin(near))].landmarks
    return out


def follow(detector: Any, frames: list[np.ndarray], k: int) -> tuple[list[Any], dict]:
    """A FaceTracker with interval ``k`` fed one frame at a time (as ``detect_aus`` feeds it
    a batch): each frame's faces, CPU time, and whether O-Net followed the face, a scheduled
    full detection ran, or a lost track fell back to one; frames since the last full one."""
    from d2ca.face import FaceTracker

    tracker = FaceTracker(detector, keyframe_interval=k)
    faces, kind, cpu, since = [], [], [], []
    for frame in frames:
        # the tracker's own state says whether this step will try to follow (peeked at here)
        tries = bool(tracker._tracks) and tracker._since_detection < k
        before, start = tracker.full_detections, time.process_time()
        faces.append(tracker.track([frame])[0])
        cpu.append(time.process_time() - start)
        full = tracker.full_detections > before
        kind.append("fallback" if full and tries else "full" if full else "followed")
        since.append(0 if full else tracker._since_detection - 1)
    return faces, {"kind": np.array(kind), "cpu": np.array(cpu), "since": np.array(since)}


def landmark_study(
    frames: list[np.ndarray],
    copy: list[np.ndarray] | None,
    homographies: np.ndarray,
    detector: Any,
    kind: str,
    intervals: list[int],
) -> dict[str, Any]:
    """Landmark errors as fractions of the true inter-ocular distance, [median, p95] over
    all landmarks of the frames where both sides found the face; and the tracker's figures.
    ``copy``: the video with other sensor noise (MTCNN against itself)."""
    from d2ca.face import FaceTracker

    reference, spread = reference_landmarks(detector, kind)
    truth = np.stack([transform(h, reference) for h in homographies])
    inter_ocular = np.linalg.norm(truth[:, 0] - truth[:, 1], axis=1)[:, None]
    centre = np.stack([transform(h, np.array([PHOTO_FACE]))[0] for h in homographies])
    # frames whose face moves 3 px or more (the realistic video blurs these)
    fast = np.hypot(*np.gradient(centre, axis=0).T) >= 3

    def error(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (frames, 5)
        return np.linalg.norm(a - b, axis=2) / inter_ocular

    def stats(d: np.ndarray) -> list[float]:
        d = d[np.isfinite(d)]
        return [float(np.median(d)), float(np.percentile(d, 95))] if d.size else [np.nan] * 2

    start = time.process_time()
    detected = FaceTracker(detector, keyframe_interval=1).track(frames)
    per_frame_ms = 1000 * (time.process_time() - start) / len(frames)
    per_frame = _landmarks(detected, truth)
    boxes = np.array([faces[0][1].box for faces in detected if faces])
    widths = boxes[:, 2] - boxes[:, 0]
    out: dict[str, Any] = {
        "reference_spread": spread,
        "true_inter_ocular_px": [float(inter_ocular.min()), float(inter_ocular.max())],
        "face_box_px_median": np.median(boxes[:, 2:] - boxes[:, :2], axis=0).tolist(),
        "face_box_width_px_range": [float(widths.min()), float(widths.max())],
        "fast_frames": int(fast.sum()),
        "per_frame_cpu_ms": per_frame_ms,
        "per_frame_missed": int(np.isnan(per_frame[:, 0, 0]).sum()),
        "per_frame_false_faces": sum(max(0, len(faces) - 1) for faces in detected),
        "per_frame_truth": stats(error(per_frame, truth)),
        "per_frame_truth_fast": stats(error(per_frame, truth)[fast]),
        "per_frame_truth_by_landmark": np.nanmedian(error(per_frame, truth), axis=0).tolist(),
    }
    unstable = np.zeros(len(frames), bool)
    if copy is not None:
        renoised = _landmarks(FaceTracker(detector, keyframe_interval=1).track(copy), truth)
        itself = error(per_frame, renoised)
        out["per_frame_renoised"] = stats(itself)
        # frames where MTCNN is least stable: its top quarter of frame medians against itself
        by_frame = np.nanmedian(itself, axis=1)
        unstable = by_frame >= np.nanpercentile(by_frame, 75)
        out["unstable_frames"] = int(unstable.sum())
        out["per_frame_truth_unstable"] = stats(error(per_frame, truth)[unstable])
    for k in intervals:
        faces, steps = follow(detector, frames, k)
        tracked = _landmarks(faces, truth)
        against_truth = error(tracked, truth)
        name = f"track_k{k}"
        out[f"{name}_truth"] = stats(against_truth)
        out[f"{name}_per_frame"] = stats(error(tracked, per_frame))
        out[f"{name}_truth_fast"] = stats(against_truth[fast])
        if copy is not None:
            out[f"{name}_truth_unstable"] = stats(against_truth[unstable])
        out[f"{name}_missed"] = int(np.isnan(tracked[:, 0, 0]).sum())
        out[f"{name}_false_faces"] = sum(max(0, len(frame) - 1) for frame in faces)
        for what in ("full", "fallback", "followed"):
            chosen = steps["kind"] == what
            out[f"{name}_{what}_frames"] = int(chosen.sum())
            out[f"{name}_{what}_cpu_ms"] = (
                1000 * float(np.median(steps["cpu"][chosen])) if chosen.any() else None
            )
        out[f"{name}_truth_by_since_keyframe"] = [
            float(np.nanmedian(against_truth[steps["since"] == s]))
            for s in range(k)
            if (steps["since"] == s).any()
        ]
        out[f"{name}_truth_by_landmark"] = np.nanmedian(against_truth, axis=0).tolist()
        worst = np.nanmedian(against_truth, axis=1)
        out[f"{name}_worst_frames"] = np.argsort(-np.nan_to_num(worst))[:10].tolist()
    return out


def au_network_run(device: str, batch: int, repeats: int) -> Callable[[], None]:
    """``sigmoid(C(E_au(x)))`` on ``repeats`` batches of 128x128 crops."""
    from d2ca.config import D2CAConfig
    from d2ca.models import D2CAModel

    model = D2CAModel(D2CAConfig()).to(device).eval()
    x = torch.randn(batch, 3, 128, 128, device=device)

    def run() -> None:
        with torch.inference_mode():
            for _ in range(repeats):
                torch.sigmoid(model(x))

    run()  # warm-up
    return run


def peak_rss_mib(path: Path, device: str, threads: int | None) -> float:
    code = (
        "import resource, torch\n"
        f"torch.set_num_threads({threads or torch.get_num_threads()})\n"
        "from d2ca.config import D2CAConfig\n"
        "from d2ca.models import D2CAModel\n"
        "from d2ca.inference.pipeline import D2CA\n"
        f"D2CA(D2CAModel(D2CAConfig()).to({device!r})).detect_aus({str(path)!r}, progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024  # Linux reports KiB


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def write_json(path: Path, figures: dict[str, Any]) -> None:
    """Atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(figures, indent=1) + "\n")
    os.replace(part, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", choices=("realistic", "rendered-drift"), default="realistic")
    parser.add_argument("--frames", type=int, default=472)
    parser.add_argument("--seed", type=int, default=0, help="the realistic video's motion")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--keyframe-intervals", type=int, nargs="*", default=[5, 10, 25])
    parser.add_argument("--batch-size", type=int, default=32, help="detect_aus's batch_size")
    parser.add_argument("--bare-batches", type=int, nargs="+", default=[1, 8],
                        help="frames per call of the bare MTCNN runs")  # fmt: skip
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS runs")
    parser.add_argument("--no-landmarks", action="store_true", help="skip the landmark study")
    parser.add_argument("--save-video", type=Path, help="keep a copy of the rendered video")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from train_step import environment  # d2ca is imported late: after --threads

    from d2ca.devices import resolve_device

    device = str(resolve_device(args.device))
    figures: dict[str, Any] = {
        "command": "python benchmarks/detect_video.py " + " ".join(sys.argv[1:]),
        "video": args.video,
        "seed": args.seed,
        "frames": args.frames,
        "size": f"{WIDTH}x{HEIGHT}",
        "device": device,
        **environment(torch.device(device)),
        "torch_threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
    }
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "one_face.mp4"
        homographies = make_video(args.video, video, args.frames, args.seed)
        if args.save_video:
            shutil.copyfile(video, args.save_video)
        frames = read_frames(video)
        bare = {"mtcnn" if b == 1 else f"mtcnn_b{b}": b for b in args.bare_batches}
        runs = {
            name: (args.frames, mtcnn_run(frames, device, 40, batch))
            for name, batch in bare.items()
        }
        misses: dict[str, list[int]] = {"pipeline": []}  # frames without a face, per run
        run = pipeline_run(video, misses["pipeline"], device, batch_size=args.batch_size)
        runs["pipeline"] = (args.frames, run)
        for k in args.keyframe_intervals:
            misses[f"track_k{k}"] = []
            run = pipeline_run(video, misses[f"track_k{k}"], device, k, args.batch_size)
            runs[f"track_k{k}"] = (args.frames, run)
        runs["mtcnn_min20"] = (args.frames, mtcnn_run(frames, device, 20, args.bare_batches[0]))
        for batch in (1, 64):
            repeats = max(2, 128 // batch)
            runs[f"au_net_b{batch}"] = (batch * repeats, au_network_run(device, batch, repeats))
        for name, (wall, cpu) in best_rates(runs, args.repeats).items():
            figures[f"{name}_per_s"], figures[f"{name}_per_cpu_s"] = wall, cpu
        for name, missed in misses.items():  # 0 on both videos on the CPU
            figures[f"{name}_frames_without_face"] = max(missed)
        for name in ("pipeline", *(f"track_k{k}" for k in args.keyframe_intervals)):
            for unit in ("s", "cpu_s"):  # against the fastest bare MTCNN run
                fastest = max(figures[f"{b}_per_{unit}"] for b in bare)
                key = "ratio" if name == "pipeline" else f"{name}_ratio"
                figures[f"{key}_per_{unit}"] = figures[f"{name}_per_{unit}"] / fastest
        if not args.no_landmarks:
            copy = None
            if args.video == "realistic":  # the same video with other sensor noise
                renoised = Path(tmp) / "renoised.mp4"
                make_video(args.video, renoised, args.frames, args.seed, noise=1)
                copy = read_frames(renoised)
            detector = _pipeline(device).detector
            figures.update(
                landmark_study(
                    frames, copy, homographies, detector, args.video, args.keyframe_intervals
                )
            )
        if not args.no_memory:
            long_video = Path(tmp) / "ten_times.mp4"
            make_video(args.video, long_video, 10 * args.frames, args.seed)
            figures["peak_rss_mib"] = peak_rss_mib(video, device, args.threads)
            figures["peak_rss_mib_10x"] = peak_rss_mib(long_video, device, args.threads)
    figures = {k: _rounded(v) for k, v in figures.items()}
    if args.json:
        write_json(args.json, figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
