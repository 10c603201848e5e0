"""``d2ca prepare``'s speed on BP4D-sized frames: detection, alignment and caching per frame.

Builds a BP4D tree in its distributed layout (the tests' ``make_bp4d``) whose frames are
BP4D's size, 1040 x 1392 (width x height), each holding the astronaut photograph's head 1,000
px wide (MTCNN's box around the face is recorded) at an offset that changes with the frame.
Then times, in one run, each into a fresh output folder:
  * ``prepare("bp4d", ...)`` with 1 and with ``--workers`` processes at the default
    ``min_face_size`` (40), and with 1 at 80 (the lab datasets' large faces);
  * a rerun on the finished folder (it resumes: nothing is left to detect).
Wall clock only (workers are processes); the load average is recorded beside it, since a
shared machine slows every figure.

Run:  python benchmarks/prepare_speed.py [--frames 50] [--workers 2] [--json OUT.json]
      (frames per subject and task; 2 subjects x 2 tasks)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _datasets import make_bp4d  # noqa: E402
from train_step import environment, write_json  # noqa: E402

from d2ca.data.prepare import prepare  # noqa: E402
from d2ca.face import FaceDetector  # noqa: E402

WIDTH, HEIGHT, HEAD = 1040, 1392, 1000  # BP4D's frames; the head region's side


def bp4d_frame(_subject: str, frame: int) -> np.ndarray:
    """A BP4D-sized RGB frame: the astronaut's head scaled up on grey, moved by ``frame``."""
    region = skimage.data.astronaut()[10:240, 110:340]  # the head, 230 px square
    head = cv2.resize(region, (HEAD, HEAD), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    top, left = 150 + 8 * (frame % 7), 10 * (frame % 5)
    canvas[top : top + HEAD, left : left + HEAD] = head
    return canvas


def timed(root: Path, out: Path, **options) -> dict:
    """Seconds of one ``prepare`` call, and what it did (frames computed, reused, no face)."""
    start = time.perf_counter()
    s = prepare("bp4d", root, out, progress=False, **options)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "frames": s.frames, "computed": s.computed,
            "reused": s.reused, "no_face": s.no_face}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=50, help="per subject and task")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result: dict = {
        "command": "python benchmarks/prepare_speed.py " + " ".join(sys.argv[1:]),
        "frame_size": f"{WIDTH}x{HEIGHT}",
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        **environment(torch.device("cpu")),
        "load_average_before": os.getloadavg()[0],
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "BP4D"
        make_bp4d(root, subjects=("F001", "M001"), tasks=("T1", "T2"),
                  frames=tuple(range(1, args.frames + 1)), image=bp4d_frame)  # fmt: skip
        n = 4 * args.frames
        result["frames"] = n
        (face,) = FaceDetector(max_side=640).detect([bp4d_frame("F001", 1)])[0]
        result["face_box_px"] = [round(float(x)) for x in face.box[2:] - face.box[:2]]
        runs = {f"workers={w}": {"workers": w} for w in (1, args.workers)}
        runs["workers=1, min_face_size=80"] = {"workers": 1, "min_face_size": 80}
        for name, options in runs.items():
            out = Path(tmp) / name.replace(", ", "-").replace("=", "")
            run = timed(root, out, **options)
            run["ms_per_frame"] = round(1000 * run["seconds"] / n, 1)
            result["runs"][name] = run
            print(name, run, flush=True)
        again = timed(root, Path(tmp) / f"workers{args.workers}", workers=args.workers)
        result["runs"]["rerun on the finished folder"] = again
        print("rerun", again, flush=True)
    result["load_average_after"] = os.getloadavg()[0]
    if args.json:
        write_json(args.json, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
