"""Operators and host reads per frame of ``D2CA.detect_aus`` on the realistic 640x360 video
(``detect_video.py``'s), counted on the CPU below autograd by a ``TorchDispatchMode``: a
device-free stand-in for the kernels a GPU launches and the times it waits for the host
(issue 19). MTCNN's crops are cut two ways (``FaceDetector(batched_crops=...)``): all at
once from the frames' summed-area table, the GPU's default, and by facenet-pytorch's loop of
one crop and one read per candidate, the CPU's default (and the GPU's until the batched
crops). Each with full MTCNN on every frame and with tracking (``keyframe_interval`` 5),
32 frames per MTCNN call, as on a GPU.

Host reads are the operators that give the host a value only the device has: scalar reads
(``_local_scalar_dense``: ``.item()``, ``float()``, ``int()``) and operators whose output size
depends on values (``nonzero`` and kin). Copies to the host are not seen on a CPU (there is
nothing to copy); the tracker makes one per plan by design.

    python benchmarks/detect_ops.py --frames 64 --json docs/performance/detect_ops_cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_video import make_video  # noqa: E402
from step_profile import OpCount  # noqa: E402

from d2ca import D2CA  # noqa: E402
from d2ca.face import FaceDetector  # noqa: E402

HOST_READS = {"_local_scalar_dense", "nonzero", "is_nonzero", "masked_select", "_unique2",
              "unique_consecutive", "unique_dim", "nonzero_static"}  # fmt: skip


def count(model: D2CA, video: Path, frames: int, tracking: bool) -> dict[str, Any]:
    """Operators of one ``detect_aus`` over ``video`` (after a warm-up call), per frame."""
    model.detect_aus(str(video), tracking=tracking)  # lazily built state outside the count
    with OpCount() as counter:
        rows = model.detect_aus(str(video), tracking=tracking)
    ops = counter.ops
    total, reads = sum(ops.values()), {k: v for k, v in ops.items() if k in HOST_READS}
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:12]
    return {
        "frames": frames,
        "faces_found": int(sum(rows.to_pandas()["success"])),
        "ops_per_frame": total / frames,
        "host_reads_per_frame": sum(reads.values()) / frames,
        "host_reads": reads,
        "top_ops_per_frame": {k: round(v / frames, 2) for k, v in top},
    }


def main(argv: Sequence[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shipped = D2CA.from_pretrained(device="cpu").model
    out: dict[str, Any] = {"video": "realistic", "seed": args.seed, "batch": 32}
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "realistic.mp4"
        make_video("realistic", video, args.frames, seed=args.seed)
        for crops in ("batched", "loop"):
            detector = FaceDetector(min_face_size=40, batch_size=32,
                                    batched_crops=crops == "batched")  # fmt: skip
            model = D2CA(shipped, detector=detector)
            for mode, tracking in (("per_frame", False), ("tracked_k5", True)):
                out[f"{crops}_{mode}"] = figures = count(model, video, args.frames, tracking)
                ops, reads = figures["ops_per_frame"], figures["host_reads_per_frame"]
                print(f"{crops} crops, {mode}: {ops:.1f} operators, {reads:.1f} host reads a frame")
    out["command"] = " ".join(["python", "benchmarks/detect_ops.py", *(argv or sys.argv[1:])])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
