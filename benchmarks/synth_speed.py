"""SynthAU rendering speed per preset and size, and the figures of docs/synthau.md.

Usage:
    python benchmarks/synth_speed.py [--json OUT.json]     # speed table (markdown) on stdout
    python benchmarks/synth_speed.py --sheet docs/img/synthau_presets.png \
        --aus docs/img/synthau_aus.png --no-speed          # regenerate the figures

Speed is measured in one process: ``render_face`` on pre-drawn parameters (the renderer
alone), and ``render_dataset`` into a temporary folder (sampling, rendering, PNG writing
and the manifest).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import write_json  # noqa: E402

from d2ca.aus import AU_DESCRIPTIONS  # noqa: E402
from d2ca.data.synth import (
    AUS,
    PRESETS,
    Scene,
    render_dataset,
    render_face,
    sample_aus,
    sample_identity,
    sample_scene,
)


def _rate(count: int, fn, *args, **kwargs) -> tuple[float, float]:
    """Images per second of wall-clock time and per second of this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args, **kwargs)
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def _render_all(items: list, size: int) -> None:
    for identity, aus, scene in items:
        render_face(identity, aus, scene, size)


def speed(n: int, sizes: list[int]) -> list[dict]:
    """Print a markdown table and return its rows; CPU-time rates depend less than wall-clock
    ones on other load on the machine."""
    print("| preset | size | render_face img/s (wall / CPU) | render_dataset img/s (wall / CPU) |")
    print("|---|---|---|---|")
    rows = []
    for size in sizes:
        for name in PRESETS:
            rng = np.random.default_rng(0)
            items = [
                (sample_identity(rng, name), sample_aus(rng, name), sample_scene(rng, name))
                for _ in range(n)
            ]
            render_face(*items[0], size=size)  # warm up
            faces = _rate(n, _render_all, items, size)
            subjects = max(1, n // 10)
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "d"
                dataset = _rate(
                    subjects * 10,
                    render_dataset,
                    out,
                    name,
                    subjects=subjects,
                    frames_per_subject=10,
                    size=size,
                )
            print(
                f"| {name} | {size} | {faces[0]:.0f} / {faces[1]:.0f} "
                f"| {dataset[0]:.0f} / {dataset[1]:.0f} |",
                flush=True,
            )
            rows.append({"preset": name, "size": size, "render_face_per_s": faces[0],
                         "render_face_per_cpu_s": faces[1], "render_dataset_per_s": dataset[0],
                         "render_dataset_per_cpu_s": dataset[1]})  # fmt: skip
    return rows


def _label(img: np.ndarray, text: str, scale: float = 0.4) -> np.ndarray:
    """``img`` with a white strip above it holding ``text``."""
    strip = np.full((16, img.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, img])


def sheet(path: Path, columns: int = 8, size: int = 128) -> None:
    """Rows: presets; columns: random subjects and frames of that preset."""
    rows = []
    for name in PRESETS:
        faces = []
        for j in range(columns):
            rng = np.random.default_rng((7, j))
            faces.append(
                render_face(
                    sample_identity(rng, name), sample_aus(rng, name), sample_scene(rng, name), size
                )
            )
        rows.append(_label(np.hstack(faces), f"{name}: {PRESETS[name].description}"))
    _write(path, np.vstack(rows))


def au_figure(path: Path, size: int = 128) -> None:
    """Top: one identity, neutral and each AU at intensity 5. Bottom: the change, amplified."""
    identity = sample_identity(np.random.default_rng(3), "lab-a")
    scene = Scene()
    neutral = render_face(identity, {}, scene, size)
    top, bottom = [_label(neutral, "neutral")], [_label(np.full_like(neutral, 255), "")]
    for au in AUS:
        img = render_face(identity, {au: 5.0}, scene, size)
        diff = np.abs(img.astype(np.int16) - neutral).max(-1).astype(np.float32)
        heat = cv2.applyColorMap(np.clip(diff * 4, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
        top.append(_label(img, f"AU{au}"))
        bottom.append(_label(heat[..., ::-1], AU_DESCRIPTIONS[au], 0.33))
    half = (len(top) + 1) // 2
    pad = [np.full_like(top[0], 255)] * (2 * half - len(top))
    top, bottom = top + pad, bottom + pad
    grid = [
        np.hstack(top[:half]),
        np.hstack(bottom[:half]),
        np.hstack(top[half:]),
        np.hstack(bottom[half:]),
    ]
    _write(path, np.vstack(grid))


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), rgb[..., ::-1]):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="faces per preset and size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--sheet", type=Path, help="write the preset contact sheet here")
    parser.add_argument("--aus", type=Path, help="write the AU effect figure here")
    parser.add_argument("--no-speed", action="store_true", help="only write the figures")
    parser.add_argument("--json", type=Path, help="also write the speed table to this file")
    args = parser.parse_args()
    if args.sheet:
        sheet(args.sheet)
    if args.aus:
        au_figure(args.aus)
    if not args.no_speed:
        rows = speed(args.n, args.sizes)
        if args.json:
            write_json(args.json, {
                "command": "python benchmarks/synth_speed.py " + " ".join(sys.argv[1:]),
                "cores": os.cpu_count(), "load_average": os.getloadavg()[0], "faces": args.n,
                "rows": rows})  # fmt: skip


if __name__ == "__main__":
    main()
