"""MTCNN with batched second and third stages (``d2ca.face.mtcnn.detect_faces``) against
facenet-pytorch's ``MTCNN.detect`` on the same frames, in one run.

Frames: the first ``--frames`` of the realistic 640x360 video of ``detect_video.py`` (seed 0),
``--batch`` frames a call, ``min_face_size=40`` as ``FaceDetector``. Measures:
  * the candidates per frame that reach R-Net and O-Net (facenet-pytorch cuts, copies and
    resamples each one on its own; on a GPU each also costs a host sync);
  * frames/s of both, by wall clock and per process CPU second, the best of ``--repeats``
    timings, alternating; on CUDA the clock is read after ``torch.cuda.synchronize()``;
  * the largest difference between the two in boxes, probabilities and landmarks.

Run:  python benchmarks/mtcnn_stages.py [--device auto] [--frames 96] [--batch 32]
          [--repeats 3] [--threads N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect_video import make_video, read_frames  # noqa: E402
from train_step import environment, write_json  # noqa: E402

from d2ca.devices import resolve_device  # noqa: E402
from d2ca.face.mtcnn import detect_faces  # noqa: E402


def candidates(mtcnn, batches: list[np.ndarray]) -> dict[str, float]:
    """Crops per frame that facenet-pytorch's stages two (24 px) and three (48 px) cut."""
    import facenet_pytorch.models.utils.detect_face as facenet

    counts = {24: 0, 48: 0}
    resample = facenet.imresample

    def counted(img, size):
        if tuple(size) in ((24, 24), (48, 48)):
            counts[size[0]] += 1
        return resample(img, size)

    facenet.imresample = counted
    try:
        for batch in batches:
            mtcnn.detect(batch, landmarks=True)
    finally:
        facenet.imresample = resample
    frames = sum(len(b) for b in batches)
    return {
        "rnet_crops_per_frame": counts[24] / frames,
        "onet_crops_per_frame": counts[48] / frames,
    }


def largest_differences(mtcnn, batches: list[np.ndarray]) -> dict[str, float]:
    """Largest differences of boxes, probabilities and landmarks, and frames whose face
    counts differ, between facenet-pytorch and the batched stages."""
    worst = {"box_px": 0.0, "probability": 0.0, "landmark_px": 0.0, "frames_count_differs": 0}
    for batch in batches:
        boxes, probs, points = mtcnn.detect(batch, landmarks=True)
        for b, p, pts, (ours, our_pts) in zip(boxes, probs, points, detect_faces(mtcnn, batch),
                                              strict=True):  # fmt: skip
            if (0 if b is None else len(b)) != len(ours):
                worst["frames_count_differs"] += 1
            elif b is not None:
                worst["box_px"] = max(worst["box_px"], float(np.abs(ours[:, :4] - b).max()))
                worst["probability"] = max(
                    worst["probability"], float(np.abs(ours[:, 4] - p).max())
                )
                worst["landmark_px"] = max(worst["landmark_px"], float(np.abs(our_pts - pts).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    from facenet_pytorch import MTCNN

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "realistic.mp4"
        make_video("realistic", video, args.frames, 0)
        frames = read_frames(video)
    batches = [np.stack(frames[i : i + args.batch]) for i in range(0, len(frames), args.batch)]
    mtcnn = MTCNN(min_face_size=40, keep_all=True, device=device)
    runs = {
        "facenet": lambda batch: mtcnn.detect(batch, landmarks=True),
        "batched": lambda batch: detect_faces(mtcnn, batch),
    }
    best = {name: (float("inf"), float("inf")) for name in runs}
    for run in runs.values():  # warm-up
        run(batches[0])
    for _ in range(args.repeats):
        for name, run in runs.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t, c = time.perf_counter(), time.process_time()
            for batch in batches:
                run(batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    result = {
        "command": "python benchmarks/mtcnn_stages.py " + " ".join(sys.argv[1:]),
        "device": str(device),
        **environment(device),
        "threads": torch.get_num_threads(),
        "frames": len(frames),
        "batch": args.batch,
        "repeats": args.repeats,
        **candidates(mtcnn, batches),
    }
    for name, (wall, cpu) in best.items():
        result[f"{name}_per_s"] = round(len(frames) / wall, 2)
        result[f"{name}_per_cpu_s"] = round(len(frames) / cpu, 2)
    result["batched_over_facenet_per_s"] = round(
        result["batched_per_s"] / result["facenet_per_s"], 3
    )
    result["largest_differences"] = largest_differences(mtcnn, batches)
    if args.json:
        write_json(args.json, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
