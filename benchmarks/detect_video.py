"""Benchmark of ``D2CA.detect_aus`` on a 640x360 video with one face (CPU by default).

Measures, in one run on the same frames:
  * end-to-end ``detect_aus`` frames/s with tracking (O-Net between full detections every
    ``K`` frames, for each ``--keyframe-intervals``) and with full MTCNN on every frame, and
    the tracked landmarks' distance from per-frame detection's, as a fraction of the
    inter-ocular distance (median and 95th percentile over all landmarks of all frames);
  * end-to-end per-frame ``detect_aus`` frames/s (decode, MTCNN, alignment, AU network,
    rows) against
    bare MTCNN detection (``facenet_pytorch.MTCNN.detect`` with the same settings on frames
    already decoded, one frame and eight frames per call; the ratio uses the faster), and
    MTCNN at its default ``min_face_size=20`` for reference;
  * AU-network throughput on aligned crops (faces/s) at batch 1 and 64, default config;
  * peak resident memory of ``detect_aus`` on the video and on one ten times longer, each in
    a fresh subprocess (``ru_maxrss``).

The networks are randomly initialised with the default 128x128 config (speed depends on the
architecture only). Throughputs are reported from wall-clock time (best of ``--repeats``)
and from the process's CPU time; on a shared machine the CPU-time figures are the steadier
ones, and ``--threads 1`` avoids thread oversubscription.

Run:  python benchmarks/detect_video.py [--frames 150] [--repeats 3] [--threads 1] [--device cpu]
          [--keyframe-intervals 5 10 25] [--no-memory]
"""

from __future__ import annotations

import argparse
import json
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
    path: Path, n_frames: int, device: str, keyframe_interval: int | None = None
) -> Callable[[], None]:
    """``D2CA.detect_aus`` end to end on the video file (decoding included); per-frame
    detection, or tracking with full detections ``keyframe_interval`` frames apart."""
    pipeline = _pipeline(device)
    tracking = {
        "tracking": keyframe_interval is not None,
        "keyframe_interval": keyframe_interval or 1,
    }

    def run() -> None:
        result = pipeline.detect_aus(path, progress=False, **tracking)
        assert len(result) == n_frames and result.presence.min() >= 0, "a frame lost its face"

    return run


def _pipeline(device: str) -> Any:  # d2ca is imported late: after --threads
    from d2ca.config import D2CAConfig
    from d2ca.inference.pipeline import D2CA
    from d2ca.models import D2CAModel

    pipeline = D2CA(D2CAModel(D2CAConfig()).to(device))
    pipeline.detect_aus(np.zeros((HEIGHT, WIDTH, 3), np.uint8), progress=False)  # warm-up
    return pipeline


def landmark_difference(path: Path, device: str, keyframe_interval: int) -> tuple[float, float]:
    """Median and 95th percentile of tracked landmarks' distance from per-frame detection's,
    over all five landmarks of all frames, as a fraction of the inter-ocular distance."""
    pipeline = _pipeline(device)
    detected = pipeline.detect_aus(path, progress=False, tracking=False).rows
    tracked = pipeline.detect_aus(path, progress=False, keyframe_interval=keyframe_interval).rows
    ref = np.stack([row.face.landmarks for row in detected])
    ours = np.stack([row.face.landmarks for row in tracked])
    inter_ocular = np.linalg.norm(ref[:, 0] - ref[:, 1], axis=1, keepdims=True)
    distance = np.linalg.norm(ours - ref, axis=2) / inter_ocular
    return float(np.median(distance)), float(np.percentile(distance, 95))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keyframe-intervals", type=int, nargs="*", default=[5, 10, 25])
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS runs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
        runs = {
            "mtcnn": (args.frames, mtcnn_run(frames, args.device, 40)),
            # the pipeline's FaceDetector passes 8 frames per MTCNN call
            "mtcnn_b8": (args.frames, mtcnn_run(frames, args.device, 40, batch=8)),
            "pipeline": (args.frames, pipeline_run(video, args.frames, args.device)),
            **{
                f"track_k{k}": (args.frames, pipeline_run(video, args.frames, args.device, k))
                for k in args.keyframe_intervals
            },
            "mtcnn_min20": (args.frames, mtcnn_run(frames, args.device, 20)),
        }
        for batch in (1, 64):
            repeats = max(2, 128 // batch)
            runs[f"au_net_b{batch}"] = (
                batch * repeats,
                au_network_run(args.device, batch, repeats),
            )
        for name, (wall, cpu) in best_rates(runs, args.repeats).items():
            figures[f"{name}_per_s"], figures[f"{name}_per_cpu_s"] = wall, cpu
        for unit in ("s", "cpu_s"):  # against the faster of the two bare MTCNN runs
            bare = max(figures[f"mtcnn_per_{unit}"], figures[f"mtcnn_b8_per_{unit}"])
            figures[f"ratio_per_{unit}"] = figures[f"pipeline_per_{unit}"] / bare
        for k in args.keyframe_intervals:
            for unit in ("s", "cpu_s"):  # tracking against the faster bare MTCNN
                bare = max(figures[f"mtcnn_per_{unit}"], figures[f"mtcnn_b8_per_{unit}"])
                figures[f"track_k{k}_ratio_per_{unit}"] = figures[f"track_k{k}_per_{unit}"] / bare
            median, p95 = landmark_difference(video, args.device, k)
            figures[f"track_k{k}_landmark_median"] = median
            figures[f"track_k{k}_landmark_p95"] = p95
        if args.no_memory:
            print(
                json.dumps(
                    {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}
                )
            )
            return
        long_video = write_video(Path(tmp) / "ten_times.mp4", 10 * args.frames)
        figures["peak_rss_mib"] = peak_rss_mib(video, args.device, args.threads)
        figures["peak_rss_mib_10x"] = peak_rss_mib(long_video, args.device, args.threads)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
