"""Passes of one network over G inputs: G separate calls against one stacked call.

A D2CA step runs E_au, the domain encoders and the decoder over several inputs each. Since
2026-12-04 the passes that do not wait on each other run as one call over the inputs'
concatenation (:func:`d2ca.models.stacked`; batch norm normalises each slice alone), which
launches a fraction of the kernels: 1,866 operators a step instead of 2,883
(docs/performance.md, "Fewer kernels a step"). This script times, in one process, the
forward and backward pass of E_au and of the decoder over G inputs of N faces both ways, at
the trainer's memory format (channels_last), and checks that they agree::

    python benchmarks/stacked_passes.py [--device cpu|cuda] [--batch 128] [--passes 2 4]
        [--image-size 128] [--bf16] [--reps 20] [--json OUT.json]

On CUDA each variant is also timed replayed from a captured CUDA graph (as ``--cuda-graphs``
trains), where launches cost nothing and the kernels' own time is what is left. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from train_step import write_json

from d2ca.config import D2CAConfig
from d2ca.devices import resolve_device
from d2ca.models import D2CAModel, stacked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16, help="faces per pass (N)")
    parser.add_argument("--passes", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    cfg = D2CAConfig(image_size=args.image_size)
    model = D2CAModel(cfg).to(device, memory_format=torch.channels_last).train()
    side, n = cfg.feature_size, args.batch

    def amp(cache: bool = True) -> torch.autocast | nullcontext:
        return (torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=cache)
                if args.bf16 and cuda else nullcontext())  # fmt: skip

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    def leaf(*shape: int) -> torch.Tensor:
        x = torch.randn(*shape, device=device).contiguous(memory_format=torch.channels_last)
        return x.requires_grad_()

    def eager_time(f: Callable[[], torch.Tensor]) -> float:
        for _ in range(3):
            with amp():
                f().backward()
        sync()
        t = time.perf_counter()
        for _ in range(args.reps):
            with amp():
                f().backward()
        sync()
        return (time.perf_counter() - t) / args.reps

    def graph_time(f: Callable[[], torch.Tensor]) -> float:
        side_stream = torch.cuda.Stream()
        side_stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side_stream):
            for _ in range(3):
                with amp(cache=False):
                    f().backward()
        torch.cuda.current_stream().wait_stream(side_stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), amp(cache=False):
            f().backward()
        graph.replay()
        sync()
        t = time.perf_counter()
        for _ in range(args.reps):
            graph.replay()
        sync()
        return (time.perf_counter() - t) / args.reps

    result: dict = {
        "device": str(device),
        "gpu_name": torch.cuda.get_device_name(device) if cuda else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "bf16": args.bf16 and cuda,
        "batch_per_pass": n,
        "image_size": args.image_size,
        "nets": {},
    }
    nets = {
        "e_au": (model.e_au, lambda: [leaf(n, 3, args.image_size, args.image_size)]),
        "decoder": (model.decoder, lambda: [leaf(n, cfg.au_channels, side, side),
                                            leaf(n, cfg.dm_channels, side, side)]),
    }  # fmt: skip
    for name, (net, make) in nets.items():
        for g in args.passes:
            inputs = [make() for _ in range(g)]

            def separate(net=net, inputs=inputs) -> torch.Tensor:
                return torch.cat([net(*x) for x in inputs]).float().square().mean()

            def joined(net=net, inputs=inputs, g=g) -> torch.Tensor:
                with stacked(g, net):
                    args_ = [torch.cat(parts) for parts in zip(*inputs, strict=True)]
                    return net(*args_).float().square().mean()

            with torch.no_grad(), amp():
                a = torch.cat([net(*x) for x in inputs]).float()
                with stacked(g, net):
                    b = net(*[torch.cat(p) for p in zip(*inputs, strict=True)]).float()
            row = {"max_abs_difference": float((a - b).abs().max())}
            timers = {"eager": eager_time} | ({"graphed": graph_time} if cuda else {})
            for mode, timer in timers.items():
                t_sep, t_joined = timer(separate), timer(joined)
                row[f"{mode}_separate_ms"] = round(1e3 * t_sep, 3)
                row[f"{mode}_stacked_ms"] = round(1e3 * t_joined, 3)
                row[f"{mode}_separate_over_stacked"] = round(t_sep / t_joined, 3)
            result["nets"][f"{name}_x{g}"] = row
    if args.json:
        write_json(args.json, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
