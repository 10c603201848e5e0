"""Benchmark of one training step through :class:`d2ca.train.Trainer` (CPU or CUDA).

Measures, in one run, on the default 128x128 networks or the ones ``--image-size`` and
``--model`` give (randomly initialised; speed depends on the architecture only), with images
cached in memory as the trainer does for small data:
  * images/s of one full D2CA step (encoder/decoder update + discriminator update, batch
    ``--batch`` per domain, so 2 x batch images per step) and of one source-only step
    (batch images per step), in the trainer's default channels_last memory format, and of
    the D2CA step in the plain NCHW format (``d2ca_nchw``); ``--runs`` picks a subset;
  * the FLOPs of one D2CA step counted by ``torch.utils.flop_counter.FlopCounterMode``
    (forward and backward of both updates) and the FLOP/s achieved, against a large
    float32 ``torch.mm`` timed in the same run (the machine's practical matmul peak) and,
    on CUDA, a bfloat16 one (the tensor cores' practical peak, the ceiling of ``--bf16``);
  * on CUDA: the peak GPU memory of each measurement (reset between them), the GPU's name,
    and the torch, CUDA and cuDNN versions.

Every timed step is a diagnostics step unless ``--no-diagnostics``: the benchmark calls
``Trainer.train_step`` without advancing ``trainer.step``, and step 0 is one of the
``diagnose_every`` steps (an extra backward pass per loss term and a host read of each
gradient norm). Every figure before ``--no-diagnostics`` existed was measured so; a real
run diagnoses one step in 50.

``--profile PATH`` runs ``torch.profiler`` over ``--profile-steps`` D2CA steps after the
timing and writes a small JSON summary (kernel launches, device busy time against wall
time, top ops, host-device synchronisations per step).

Run:  python benchmarks/train_step.py [--batch 32] [--steps 3] [--threads N] [--device auto]
          [--image-size 128] [--model '{"enc_widths": [12, 16, 24, 32, 48, 48, 64, 64]}']
          [--bf16] [--compile] [--cuda-graphs] [--update-clip] [--no-diagnostics]
          [--runs d2ca,source-only]
          [--json OUT.json] [--profile PROFILE.json] [--count-ops OPS.json]
Prints one JSON object (and writes it to ``--json``). Figures are medians over ``--steps``
timed steps after ``--warmup`` steps; ``step_cpu_s`` is the process CPU time of a step
(steadier than wall time on a shared CPU). On CUDA the clock is read after
``torch.cuda.synchronize()``. ``--bf16``, ``--compile`` and ``--cuda-graphs`` are ignored off
CUDA, as by the trainer. ``--cuda-graphs`` replays D2CA steps from a CUDA graph only when they
are not diagnostics steps, so it needs ``--no-diagnostics`` (and at least five warm-up steps:
three eager ones, the capture, one replay).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from step_profile import count_ops, device_sync, profile_steps, sync_points
from torch.utils.flop_counter import FlopCounterMode

from d2ca.data.manifest import write_manifest
from d2ca.devices import resolve_device
from d2ca.errors import DeviceError
from d2ca.train import TrainConfig, Trainer

RUNS = {"d2ca": ("d2ca", True), "d2ca_nchw": ("d2ca", False),
        "source-only": ("source-only", True)}  # fmt: skip
GIB = 2**30


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


def time_steps(
    trainer: Trainer, steps: int, warmup: int = 1
) -> tuple[list[float], list[float], float]:
    """Wall-clock and process CPU seconds of ``steps`` train steps after ``warmup`` ones.

    Returns:
        ``(wall, cpu, warmup_s)``; ``warmup_s`` is the wall time of the warm-up steps
        (with ``compile``, mostly compilation).
    """
    batches = trainer._batches()
    t = time.perf_counter()
    for _ in range(warmup):
        trainer.train_step(next(batches))
    device_sync(trainer.device)
    warmup_s = time.perf_counter() - t
    wall, cpu = [], []
    for _ in range(steps):
        batch = next(batches)
        device_sync(trainer.device)
        t, c = time.perf_counter(), time.process_time()
        trainer.train_step(batch)
        device_sync(trainer.device)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu, warmup_s


def matmul_flops(
    device: torch.device,
    n: int = 2048,
    repeats: int = 5,
    dtype: torch.dtype = torch.float32,
    inner: int = 1,
) -> tuple[float, float]:
    """FLOP/s of an ``n x n`` matmul in ``dtype``: best over ``repeats`` timings of ``inner``
    products each, per wall and per CPU second (random operands: zeros can run faster)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        device_sync(device)
        t, c = time.perf_counter(), time.process_time()
        for _ in range(inner):
            a @ b
        device_sync(device)
        wall = min(wall, (time.perf_counter() - t) / inner)
        cpu = min(cpu, (time.process_time() - c) / inner)
    return 2 * n**3 / wall, 2 * n**3 / max(cpu, 1e-9)


def count_flops(trainer: Trainer) -> int | None:
    """FLOPs of one train step; a compiled trainer's networks run eagerly for the count,
    and a graphed trainer's step too (a replay runs no operator the counter could see).

    Returns None (and says why on stderr) when the count fails, so that the timings survive.
    """
    compiled = trainer.config.compile and trainer.device.type == "cuda"
    stance = getattr(torch.compiler, "set_stance", None)
    try:
        eager = stance("force_eager") if compiled and stance is not None else nullcontext()
        with eager, FlopCounterMode(display=False) as counter:
            step = trainer.train_step if trainer.graphed is None else trainer._step
            step(next(trainer._batches()))
    except Exception as e:  # a benchmark reports what it can rather than nothing
        print(f"warning: FLOP count failed: {e!r}", file=sys.stderr)
        return None
    return counter.get_total_flops()


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the result from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(get: Any) -> Any:
    """A backend switch's value, or None where this torch version refuses the old API."""
    try:
        return get()
    except Exception:
        return None


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, and on CUDA the GPU and the TF32 switches that decide what "fp32" means."""
    env: dict[str, Any] = {"torch_version": torch.__version__}
    if device.type == "cuda":
        cc = torch.cuda.get_device_capability(device)
        env.update(
            gpu_name=torch.cuda.get_device_name(device),
            gpu_capability=f"{cc[0]}.{cc[1]}",
            gpu_memory_gib=round(torch.cuda.get_device_properties(device).total_memory / GIB, 1),
            cuda_version=torch.version.cuda,
            cudnn_version=torch.backends.cudnn.version(),
            cudnn_allow_tf32=_read(lambda: torch.backends.cudnn.allow_tf32),
            matmul_allow_tf32=_read(lambda: torch.backends.cuda.matmul.allow_tf32),
            float32_matmul_precision=_read(torch.get_float32_matmul_precision),
        )
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before timing")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument(
        "--model", type=json.loads, default={}, help="D2CAConfig overrides as a JSON object"
    )
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA only)")
    parser.add_argument("--compile", action="store_true", help="torch.compile (CUDA only)")
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="replay D2CA steps as a CUDA graph (CUDA only; with --no-diagnostics)",
    )
    parser.add_argument(
        "--update-clip", action="store_true", help="Adam with update clipping (TrainConfig)"
    )
    parser.add_argument(
        "--no-diagnostics",
        action="store_true",
        help="time ordinary steps (diagnose_every=0), not diagnostics steps",
    )
    parser.add_argument(
        "--runs", default=",".join(RUNS), help=f"comma-separated subset of {', '.join(RUNS)}"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--profile", type=Path, default=None, help="profile summary JSON")
    parser.add_argument("--profile-steps", type=int, default=3)
    parser.add_argument(
        "--count-ops",
        type=Path,
        default=None,
        help="write the aten operators of one ordinary D2CA step (fp32 and bf16 autocast)",
    )
    parser.add_argument(
        "--sync-debug",
        type=Path,
        default=None,
        help="CUDA: write each host-device sync of two eager D2CA steps, with its source line",
    )
    args = parser.parse_args()
    if args.count_ops is not None and not args.no_diagnostics:
        parser.error("--count-ops counts ordinary steps: add --no-diagnostics")
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in runs if r not in RUNS]
    if unknown or not runs:
        parser.error(f"--runs: unknown {unknown or 'empty list'}; choose from {', '.join(RUNS)}")
    try:
        device = resolve_device(args.device)
    except DeviceError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.set_device(device)
    if args.threads:
        torch.set_num_threads(args.threads)
    # P subjects x K images per source batch: 8 subjects, or fewer for a batch 8 does not divide
    subjects = max(p for p in range(1, 9) if args.batch % p == 0)
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
            device=str(device),
            bf16=args.bf16,
            compile=args.compile,
            cuda_graphs=args.cuda_graphs,
            update_clip=args.update_clip,
            progress=False,
            model={**args.model, "image_size": args.image_size},
        )
        if args.no_diagnostics:
            base["diagnose_every"] = 0
        result: dict = {
            "device": str(device),
            "threads": torch.get_num_threads(),
            "batch_per_domain": args.batch,
            "image_size": args.image_size,
            "model": args.model,
            "subjects_per_batch": subjects,
            "device_requested": args.device,
            "bf16": args.bf16 and cuda,
            "compile": args.compile and cuda,
            "cuda_graphs": args.cuda_graphs and cuda,
            "update_clip": args.update_clip,
            "diagnostics_every_step": not args.no_diagnostics,
            "timed_steps": args.steps,
            "warmup_steps": args.warmup,  # at least 5 with --cuda-graphs
            **environment(device),
        }
        # the chip's practical peaks: a larger product and several per timing on a GPU
        mm = dict(n=8192, inner=10) if cuda else {}
        mm_before = matmul_flops(device, **mm)
        bf16_mm = matmul_flops(device, dtype=torch.bfloat16, **mm) if cuda else None
        profile: dict[str, Any] | None = None
        for key in runs:
            method, channels_last = RUNS[key]
            cfg = TrainConfig(**base, method=method, channels_last=channels_last,
                              out_dir=f"{tmp}/{key}")  # fmt: skip
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
            trainer = Trainer(cfg)
            # a graphed step: three eager warm-up steps, then the capture (GraphedStep)
            warmup = max(args.warmup, 5) if trainer.graphed is not None else args.warmup
            times, cpu, warmup_s = time_steps(trainer, args.steps, warmup)
            images = args.batch * (2 if method == "d2ca" else 1)
            med = statistics.median(times)
            row = result[key] = {
                "step_s": round(med, 3),
                "images_per_s": round(images / med, 2),
                "step_cpu_s": round(statistics.median(cpu), 3),
                "step_s_all": [round(t, 3) for t in times],
                "warmup_s": round(warmup_s, 2),
            }
            if cuda:
                row["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / GIB, 2)
                row["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved(device) / GIB, 2)
                row["step_s"] = round(med, 4)  # GPU steps are short: one more digit
            if key == "d2ca":
                flops = count_flops(trainer)
                row["gflop_per_step"] = flops and round(flops / 1e9, 1)
                row["gflop_per_s"] = flops and round(flops / med / 1e9, 2)
                cpu_s = max(row["step_cpu_s"], 1e-3)
                row["gflop_per_cpu_s"] = flops and round(flops / cpu_s / 1e9, 2)
                if args.sync_debug is not None and cuda:
                    try:
                        write_json(args.sync_debug, sync_points(trainer))
                    except Exception as e:
                        print(f"warning: sync debug failed: {e!r}", file=sys.stderr)
                if args.count_ops is not None:
                    ops = {k: count_ops(trainer, k == "bf16") for k in ("fp32", "bf16")}
                    write_json(args.count_ops, {"device": str(device), **ops})
                if args.profile is not None:
                    try:  # e.g. no CUPTI: the timings above must still be written
                        profile = profile_steps(trainer, args.profile_steps)
                    except Exception as e:
                        print(f"warning: profiling failed: {e!r}", file=sys.stderr)
                        profile = {"error": repr(e)}
            del trainer  # its model, optimiser state and cached images
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
        mm_after = matmul_flops(device, **mm)
        mm_wall, mm_cpu = max(mm_before[0], mm_after[0]), max(mm_before[1], mm_after[1])
        result["matmul_gflop_per_s"] = round(mm_wall / 1e9, 2)
        result["matmul_gflop_per_cpu_s"] = round(mm_cpu / 1e9, 2)
        if bf16_mm is not None:
            result["matmul_bf16_gflop_per_s"] = round(bf16_mm[0] / 1e9, 2)
        if "d2ca" in result and result["d2ca"]["gflop_per_s"]:
            d2ca = result["d2ca"]
            result["d2ca_fraction_of_matmul"] = round(d2ca["gflop_per_s"] * 1e9 / mm_wall, 3)
            frac_cpu = d2ca["gflop_per_cpu_s"] * 1e9 / mm_cpu
            result["d2ca_fraction_of_matmul_cpu"] = round(frac_cpu, 3)
            if bf16_mm is not None:
                frac = d2ca["gflop_per_s"] * 1e9 / bf16_mm[0]
                result["d2ca_fraction_of_bf16_matmul"] = round(frac, 4)
        if "d2ca" in result:
            d2ca = result["d2ca"]
            if "d2ca_nchw" in result:
                result["nchw_vs_channels_last_cpu_time"] = round(
                    result["d2ca_nchw"]["step_cpu_s"] / max(d2ca["step_cpu_s"], 1e-3), 3
                )
                if cuda:
                    result["nchw_vs_channels_last_step_time"] = round(
                        result["d2ca_nchw"]["step_s"] / d2ca["step_s"], 3
                    )
            if "source-only" in result:
                result["d2ca_vs_source_only_step_time"] = round(
                    d2ca["step_s"] / max(result["source-only"]["step_s"], 1e-4), 2
                )
    if profile is not None:
        profile = {
            "device": result["device"],
            "gpu_name": result.get("gpu_name"),
            "bf16": result["bf16"],
            "compile": result["compile"],
            "cuda_graphs": result["cuda_graphs"],
            "diagnostics_every_step": result["diagnostics_every_step"],
            "batch_per_domain": args.batch,
            "image_size": args.image_size,
            **profile,
        }
        write_json(args.profile, profile)
    elif args.profile is not None:
        print("warning: --profile profiles the d2ca run, which --runs left out", file=sys.stderr)
    if args.json is not None:
        write_json(args.json, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
