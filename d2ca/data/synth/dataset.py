"""SynthAU datasets on disk: the deterministic random streams of identities and frames, the
subject-disjoint train / val / test split, the per-subject rendering job and
:func:`render_dataset`, which writes the PNG crops, ``synthau.json`` and ``manifest.csv``.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from d2ca.aus import au_name
from d2ca.data.manifest import write_manifest
from d2ca.data.synth.presets import Preset
from d2ca.data.synth.render import render_face
from d2ca.data.synth.sampling import (
    AUS,
    Identity,
    Scene,
    _preset,
    sample_aus,
    sample_identity,
    sample_scene,
)
from d2ca.errors import InputError
from d2ca.io import OutputExistsError, atomic_path

LABEL_THRESHOLD = 2.0  # an AU is present (label 1) when its intensity is >= 2 (FACS "B")


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


def frame_factors(
    preset: Preset | str, subject: int, frame: int, seed: int
) -> tuple[Identity, np.ndarray, Scene]:
    """The identity, AU intensities and scene of one frame of :func:`render_dataset`
    (subject ``{preset}_s{subject:03d}``, its ``frame``-th frame, master ``seed``):
    ``render_face(*frame_factors(...), size)`` gives its pixels again, and other intensities
    give the same face, pose, light and camera with other AUs.

    Example:
        >>> idt, aus, scene = frame_factors("lab-a", 3, 0, seed=1)
        >>> aus.shape
        (12,)
    """
    preset = _preset(preset)
    idt = sample_identity(_stream(seed, preset.name, subject), preset)
    frng = _stream(seed, preset.name, subject, frame, 1)
    return idt, sample_aus(frng, preset), sample_scene(frng, preset)


def _render_subject(job: tuple) -> list[dict[str, object]]:
    out_dir, preset, subject, frames, size, seed, split = job
    images = Path(out_dir) / "images"
    sid = f"{preset.name}_s{subject:03d}"
    rows = []
    for frame in range(frames):
        idt, aus, scene = frame_factors(preset, subject, frame, seed)
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
