"""Benchmark of one training step through :class:`d2ca.train.Trainer` (CPU by default).

Measures, in one run, on the default 128x128 networks or the ones ``--image-size`` and
``--model`` give (randomly initialised; speed depends on the architecture only), with images
cached in memory as the trainer does for small data:
  * images/s of one full D2CA step (encoder/decoder update + discriminator update, batch
    ``--batch`` per domain, so 2 x batch images per step) and of one source-only step
    (batch images per step), in the trainer's default channels_last memory format, and of
    the D2CA step in the plain NCHW format (``d2ca_nchw``);
  * the FLOPs of one D2CA step counted by ``torch.utils.flop_counter.FlopCounterMode``
    (forward and backward of both updates) and the FLOP/s achieved, against a large
    float32 ``torch.mm`` timed in the same run (the machine's practical matmul peak).

Run:  python benchmarks/train_step.py [--batch 32] [--steps 3] [--threads N] [--device cpu]
          [--image-size 128] [--model '{"enc_widths": [12, 16, 24, 32, 48, 48, 64, 64]}']
Prints one JSON object. Figures are medians over ``--steps`` timed steps after one warm-up;
``step_cpu_s`` is the process CPU time of a step (steadier than wall time on a shared CPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from d2ca.data.manifest import write_manifest
from d2ca.train import TrainConfig, Trainer


def make_data(root: Path, subjects: int, per_subject: int, size: int = 128) -> Path:
    """A manifest of random ``size`` x ``size`` faces (content does not change the speed)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for s in range(subjects):
        for j in range(per_subject):
            name = f"{s}_{j}.png"
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / name)
            rows.append(
                {
                    "path": name,
                    "subject": f"s{s}",
                    "split": "train",
                    "AU01": j % 2,
                    "AU12": (j // 2) % 2,
                }
            )
    write_manifest(root / "manifest.csv", rows)
    return root


def time_steps(trainer: Trainer, steps: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of ``steps`` train steps after one warm-up."""
    batches = trainer._batches()
    trainer.train_step(next(batches))  # warm-up
    wall, cpu = [], []
    for _ in range(steps):
        batch = next(batches)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        trainer.train_step(batch)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def matmul_flops(device: torch.device, n: int = 2048, repeats: int = 5) -> tuple[float, float]:
    """FLOP/s of an ``n x n`` float32 matmul: best over ``repeats``, per wall and CPU second."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return 2 * n**3 / wall, 2 * n**3 / max(cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument(
        "--model", type=json.loads, default={}, help="D2CAConfig overrides as a JSON object"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    subjects = 8
    with tempfile.TemporaryDirectory() as tmp:
        per_subject = max(2, args.batch // subjects) * 2
        src = make_data(Path(tmp) / "src", subjects, per_subject, args.image_size)
        tgt = make_data(Path(tmp) / "tgt", subjects, per_subject, args.image_size)
        base = dict(
            source=str(src),
            target=str(tgt),
            steps=100,
            batch_size=args.batch,
            subjects=subjects,
            device=args.device,
            progress=False,
            model={**args.model, "image_size": args.image_size},
        )
        result: dict = {
            "device": args.device,
            "threads": torch.get_num_threads(),
            "batch_per_domain": args.batch,
            "image_size": args.image_size,
            "model": args.model,
        }
        mm_before = matmul_flops(torch.device(args.device))
        runs = {"d2ca": ("d2ca", True), "d2ca_nchw": ("d2ca", False),
                "source-only": ("source-only", True)}  # fmt: skip
        for key, (method, channels_last) in runs.items():
            cfg = TrainConfig(**base, method=method, channels_last=channels_last,
                              out_dir=f"{tmp}/{key}")  # fmt: skip
            trainer = Trainer(cfg)
            times, cpu = time_steps(trainer, args.steps)
            images = args.batch * (2 if method == "d2ca" else 1)
            med = statistics.median(times)
            result[key] = {
                "step_s": round(med, 3),
                "images_per_s": round(images / med, 2),
                "step_cpu_s": round(statistics.median(cpu), 3),
                "step_s_all": [round(t, 3) for t in times],
            }
            if key == "d2ca":
                with FlopCounterMode(display=False) as counter:
                    trainer.train_step(next(trainer._batches()))
                flops = counter.get_total_flops()
                result[key]["gflop_per_step"] = round(flops / 1e9, 1)
                result[key]["gflop_per_s"] = round(flops / med / 1e9, 2)
                cpu_s = result[key]["step_cpu_s"]
                result[key]["gflop_per_cpu_s"] = round(flops / cpu_s / 1e9, 2)
        mm_after = matmul_flops(torch.device(args.device))
        mm_wall, mm_cpu = max(mm_before[0], mm_after[0]), max(mm_before[1], mm_after[1])
        result["matmul_gflop_per_s"] = round(mm_wall / 1e9, 2)
        result["matmul_gflop_per_cpu_s"] = round(mm_cpu / 1e9, 2)
        d2ca = result["d2ca"]
        result["d2ca_fraction_of_matmul"] = round(d2ca["gflop_per_s"] * 1e9 / mm_wall, 3)
        result["d2ca_fraction_of_matmul_cpu"] = round(d2ca["gflop_per_cpu_s"] * 1e9 / mm_cpu, 3)
        result["nchw_vs_channels_last_cpu_time"] = round(
            result["d2ca_nchw"]["step_cpu_s"] / d2ca["step_cpu_s"], 3
        )
        result["d2ca_vs_source_only_step_time"] = round(
            result["d2ca"]["step_s"] / result["source-only"]["step_s"], 2
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
