"""Benchmark of ``D2CA.detect_aus`` on a 640x360 video with one face (CPU by default).

Measures, in one run on the same frames:
  * end-to-end ``detect_aus`` frames/s (decode, MTCNN, alignment, AU network, rows) against
    bare MTCNN detection (``facenet_pytorch.MTCNN.detect`` with the same settings, frames
    already decoded), and MTCNN at its default ``min_face_size=20`` for reference;
  * AU-network throughput on aligned crops (faces/s) at batch 1 and 64, default config;
  * peak resident memory of ``detect_aus`` on the video and on one ten times longer, each in
    a fresh subprocess (``ru_maxrss``).

The networks are randomly initialised with the default 128x128 config (speed depends on the
architecture only). Run:  python benchmarks/detect_video.py [--frames 150] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def read_frames(path: Path) -> list[np.ndarray]:
    from d2ca.media import iter_video

    return [frame.image for frame in iter_video(path)]


def bare_mtcnn_fps(frames: list[np.ndarray], device: str, min_face_size: int) -> float:
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(min_face_size=min_face_size, keep_all=True, device=device)
    mtcnn.detect(frames[0], landmarks=True)  # warm-up
    start = time.perf_counter()
    for frame in frames:
        mtcnn.detect(frame, landmarks=True)
    return len(frames) / (time.perf_counter() - start)


def pipeline_fps(path: Path, n_frames: int, device: str) -> float:
    from d2ca.config import D2CAConfig
    from d2ca.models import D2CAModel
    from d2ca.pipeline import D2CA

    pipeline = D2CA(D2CAModel(D2CAConfig()).to(device))
    pipeline.detect_aus(np.zeros((HEIGHT, WIDTH, 3), np.uint8), progress=False)  # warm-up
    start = time.perf_counter()
    result = pipeline.detect_aus(path, progress=False)
    seconds = time.perf_counter() - start
    assert len(result) == n_frames and result.presence.min() >= 0, "a frame lost its face"
    return n_frames / seconds


def au_network_faces_per_s(device: str, batch: int, repeats: int) -> float:
    from d2ca.config import D2CAConfig
    from d2ca.models import D2CAModel

    model = D2CAModel(D2CAConfig()).to(device).eval()
    x = torch.randn(batch, 3, 128, 128, device=device)
    with torch.inference_mode():
        model(x)
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return batch * repeats / (time.perf_counter() - start)


def peak_rss_mib(path: Path, device: str) -> float:
    code = (
        "import resource, sys\n"
        "from d2ca.config import D2CAConfig\n"
        "from d2ca.models import D2CAModel\n"
        "from d2ca.pipeline import D2CA\n"
        f"D2CA(D2CAModel(D2CAConfig()).to({device!r})).detect_aus({str(path)!r}, progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    figures: dict[str, float | int | str] = {
        "frames": args.frames,
        "size": f"{WIDTH}x{HEIGHT}",
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "one_face.mp4", args.frames)
        frames = read_frames(video)
        figures["mtcnn_fps"] = bare_mtcnn_fps(frames, args.device, 40)
        figures["pipeline_fps"] = pipeline_fps(video, args.frames, args.device)
        figures["mtcnn_fps_again"] = bare_mtcnn_fps(frames, args.device, 40)  # drift check
        figures["ratio"] = figures["pipeline_fps"] / (
            (figures["mtcnn_fps"] + figures["mtcnn_fps_again"]) / 2
        )
        figures["mtcnn_default_fps"] = bare_mtcnn_fps(frames, args.device, 20)
        for batch in (1, 64):
            figures[f"au_net_faces_per_s_b{batch}"] = au_network_faces_per_s(
                args.device, batch, max(3, 192 // batch)
            )
        long_video = write_video(Path(tmp) / "ten_times.mp4", 10 * args.frames)
        figures["peak_rss_mib"] = peak_rss_mib(video, args.device)
        figures["peak_rss_mib_10x"] = peak_rss_mib(long_video, args.device)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
