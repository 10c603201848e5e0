"""Detect action units in a video and write an OpenFace-style CSV.

Without a video argument a short clip is made from ``examples/face.png`` (the face drifting
across the frame, with a few empty frames), so the example runs anywhere, offline.

    python examples/detect_video.py                       # shipped model, generated clip
    python examples/detect_video.py clip.mp4 --every 5 --model path/or/org-name -o aus.csv
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from d2ca import D2CA

HERE = Path(__file__).parent


def make_clip(path: Path, frames: int = 30) -> Path:
    face = cv2.imread(str(HERE / "face.png"))  # BGR, 300 x 280
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (480, 320))
    for i in range(frames):
        frame = np.full((320, 480, 3), 60, np.uint8)
        if not 12 <= i < 15:  # three frames without a face
            x = 10 + 6 * i
            frame[10:310, x : x + 280] = face
        writer.write(frame)
    writer.release()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Detect AUs in a video.")
    parser.add_argument("video", nargs="?", type=Path, help="default: a generated clip")
    parser.add_argument("--model", help="checkpoint folder or Hub repo id (default: shipped)")
    parser.add_argument("--every", type=int, default=2, help="analyse every N-th frame")
    parser.add_argument("-o", "--output", type=Path, default=Path("aus.csv"))
    args = parser.parse_args()

    model = D2CA.from_pretrained(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or make_clip(Path(tmp) / "clip.mp4")
        result = model.detect_aus(video, every=args.every)

    result.to_csv(args.output, overwrite=True)
    found = [row for row in result.rows if row.success]
    print(f"{len(result)} rows, {len(found)} with a face -> {args.output}")
    if found:  # mean probability and share of frames with each AU active
        probs = np.array([row.probabilities for row in found])
        active = np.array([row.presence for row in found])
        for k, name in enumerate(result.au_names):
            print(f"{name}  mean p {probs[:, k].mean():.2f}  active {active[:, k].mean():.0%}")


if __name__ == "__main__":
    main()
