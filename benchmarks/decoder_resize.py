"""The decoder's bilinear resize of ``d``: ``F.interpolate`` against two matmuls.

The decoder (``d2ca/models/networks.py``) resizes its auxiliary maps of ``d`` (8x8 at the
default config) to 16, 32, 64 and 128 pixels before four of its layers. Before 2026-12-04 it
called ``F.interpolate(mode="bilinear")``, whose backward pass scatters with atomic adds (19%
of a bf16 D2CA step's GPU time on an H200); it now multiplies by the same interpolation as
matrices, ``U @ x @ U.T`` (:func:`d2ca.models.networks.bilinear_matrix`). This script times
the forward and backward pass of both forms, in one process, on the decoder's shapes, and
checks they agree::

    python benchmarks/decoder_resize.py [--device cpu|cuda] [--batch 128] [--reps 20]
        [--bf16] [--json OUT.json]

``--bf16`` runs both under bf16 autocast (CUDA). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from d2ca.devices import resolve_device
from d2ca.models.networks import bilinear_matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=8, help="dec_aux_channels (default 8)")
    parser.add_argument("--side", type=int, default=8, help="feature map side (128 px: 8)")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    sizes = [args.side * 2**k for k in range(1, 5)]
    mats = {n: bilinear_matrix(args.side, n).to(device) for n in sizes}
    x = torch.randn(args.batch, args.channels, args.side, args.side, device=device)
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    amp = (
        torch.autocast(device.type, dtype=torch.bfloat16) if args.bf16 else nullcontext()
    )  # fmt: skip

    def interpolate() -> torch.Tensor:
        return sum(F.interpolate(x, size=(n, n), mode="bilinear").float().mean() for n in sizes)

    def matmul() -> torch.Tensor:
        return sum((u @ x @ u.T).float().mean() for u in mats.values())

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def timed(f) -> float:
        for _ in range(3):  # warm-up
            with amp:
                f().backward()
        sync()
        t = time.perf_counter()
        for _ in range(args.reps):
            with amp:
                f().backward()
        sync()
        return (time.perf_counter() - t) / args.reps

    with torch.no_grad():
        diff = max((F.interpolate(x, size=(n, n), mode="bilinear") - u @ x @ u.T).abs().max().item()
                   for n, u in mats.items())  # fmt: skip
    t_interp, t_matmul = timed(interpolate), timed(matmul)
    result = {
        "device": str(device),
        "gpu_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "bf16": args.bf16,
        "batch": args.batch,
        "channels": args.channels,
        "sizes": [args.side, *sizes],
        "interpolate_ms": round(1e3 * t_interp, 3),
        "matmul_ms": round(1e3 * t_matmul, 3),
        "interpolate_over_matmul": round(t_interp / t_matmul, 2),
        "max_abs_difference_fp32": diff,
    }
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
