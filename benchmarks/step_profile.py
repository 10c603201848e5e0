"""What one training step does on the device, beyond its time: ``torch.profiler`` summaries
(kernel launches, busy and idle device time, top operators and kernels), the host-device
synchronisations with their source lines, and a device-free count of its aten operators.
Used by ``benchmarks/train_step.py`` (``--profile``, ``--sync-debug``, ``--count-ops``) and
``benchmarks/detect_phases.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from d2ca.train import Trainer

STEP_LABEL = "benchmark_step"
# CUDA runtime / driver calls that launch work, and those that block the host on the device
LAUNCHES = {"cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx",
            "cudaGraphLaunch"}  # fmt: skip
SYNCS = {"cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize",
         "cuStreamSynchronize", "cuCtxSynchronize"}  # fmt: skip
HOST_READS = {"aten::item", "aten::_local_scalar_dense"}  # a device scalar read by the host


def device_sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a host clock read after it is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# operators that allocate or relabel memory without running a kernel
NO_KERNEL = {"empty", "empty_strided", "empty_like", "new_empty", "new_empty_strided",
             "resize_", "set_", "detach", "alias", "lift_fresh", "_unsafe_view"}  # fmt: skip


class OpCount(TorchDispatchMode):
    """Counts by name, in :attr:`ops`, the aten operators that run a kernel, below autograd
    (views and bare allocations, :data:`NO_KERNEL`, are left out): a device-free stand-in for
    the kernels a GPU launches. :meth:`counted` sees each one."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: dict[str, int] = {}

    def counted(self, name: str, args: Any, kwargs: dict) -> None:
        self.ops[name] = self.ops.get(name, 0) + 1

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        if not (func.is_view or name in NO_KERNEL):
            self.counted(name, args, kwargs)
        return func(*args, **kwargs)


def count_ops(trainer: Trainer, bf16: bool = False) -> dict[str, Any]:
    """The aten operators one ordinary train step runs, counted below autograd by a
    ``TorchDispatchMode``: a device-free stand-in for the kernels a GPU step launches.

    Forward and backward passes are counted by operator; the optimisers' updates apart
    (``optimizer_ops_per_step``: one per parameter and operation on a CPU, where Adam loops
    over tensors; a few fused kernels on CUDA). Views and bare allocations run no kernel and
    are left out; dtype conversions (``_to_copy`` and ``copy_`` between dtypes) are counted
    apart too. ``bf16`` wraps the step in CPU bfloat16 autocast without its weight cache, as
    under ``--cuda-graphs``; CPU autocast casts fewer operators to float32 than CUDA's.
    """
    from torch.optim.optimizer import (
        register_optimizer_step_post_hook,
        register_optimizer_step_pre_hook,
    )

    tally = {"casts": 0, "optimizer": 0, "in_optimizer": False}

    class Count(OpCount):  # the optimiser's operators and the dtype casts apart
        def counted(self, name: str, args: Any, kwargs: dict) -> None:
            if tally["in_optimizer"]:
                tally["optimizer"] += 1
                return
            super().counted(name, args, kwargs)
            src = args[0] if args and isinstance(args[0], torch.Tensor) else None
            if name == "_to_copy" and src is not None and "dtype" in kwargs:
                tally["casts"] += kwargs["dtype"] != src.dtype
            if name == "copy_" and isinstance(args[1], torch.Tensor):
                tally["casts"] += args[0].dtype != args[1].dtype

    def flag(value: bool) -> Callable[..., None]:
        return lambda *_: tally.__setitem__("in_optimizer", value)

    batches = trainer._batches()
    trainer.train_step(next(batches))  # lazily built state (Adam's) outside the count
    step = trainer.train_step if trainer.graphed is None else trainer._step  # eager
    cast = torch.autocast(trainer.device.type, torch.bfloat16, cache_enabled=False)
    hooks = [register_optimizer_step_pre_hook(flag(True)),
             register_optimizer_step_post_hook(flag(False))]  # fmt: skip
    counter = Count()
    try:
        with cast if bf16 else nullcontext(), counter:
            step(next(batches))
    finally:
        for h in hooks:
            h.remove()
    counts = counter.ops
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    return {"bf16_autocast": bf16, "ops_per_step": sum(counts.values()),
            "dtype_casts_per_step": tally["casts"], "optimizer_ops_per_step": tally["optimizer"],
            "by_op": dict(top)}  # fmt: skip


def profile_steps(trainer: Trainer, steps: int) -> dict[str, Any]:
    """``torch.profiler`` over ``steps`` train steps, summarised per step.

    Each step runs inside ``record_function(STEP_LABEL)`` and ends with a device
    synchronisation (one ``cudaDeviceSynchronize`` per step that the benchmark adds and
    the summary subtracts), so every kernel a step launches finishes inside its range;
    only events that start inside a step's range are counted.
    """
    from torch.profiler import ProfilerActivity, profile, record_function

    cuda = trainer.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    batches = trainer._batches()
    trainer.train_step(next(batches))  # warm-up outside the trace
    device_sync(trainer.device)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            batch = next(batches)
            with record_function(STEP_LABEL):
                trainer.train_step(batch)
                device_sync(trainer.device)
    return summarise_profile(list(prof.events()), steps, cuda)


def sync_points(trainer: Trainer, steps: int = 2) -> dict[str, Any]:
    """The host-device synchronisations of ``steps`` eager train steps (batch fetch
    included), each with the Python lines that asked for it.

    ``torch.cuda.set_sync_debug_mode("warn")`` warns at every synchronising CUDA call; the
    warning is caught with the Python stack of the code that made it (the repository's and
    the installed d2ca's frames only, innermost first), and identical stacks are counted.
    """
    import traceback
    import warnings

    root = str(Path(__file__).resolve().parents[1])
    found: dict[str, float] = {}

    def ours(path: str) -> str | None:  # the repository's or the installed package's file
        if path.startswith(root):
            return str(Path(path).relative_to(root))
        return path[path.rindex("/d2ca/") + 1 :] if "/d2ca/" in path else None

    def show(message: Any, *args: Any, **kwargs: Any) -> None:
        frames = [f for f in traceback.extract_stack()[:-1] if ours(f.filename)]
        where = " < ".join(f"{ours(f.filename)}:{f.lineno} {f.line}" for f in frames[::-1][:4])
        key = f"{str(message).splitlines()[0][:80]} @ {where or '(outside the repository)'}"
        found[key] = found.get(key, 0.0) + 1 / steps

    batches = trainer._batches()
    trainer.train_step(next(batches))  # lazily built state (Adam's, cuDNN's) outside
    device_sync(trainer.device)
    saved = warnings.showwarning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            torch.cuda.set_sync_debug_mode("warn")
            for _ in range(steps):
                trainer.train_step(next(batches))
    finally:
        torch.cuda.set_sync_debug_mode("default")  # before the benchmark's own sync
        warnings.showwarning = saved
    device_sync(trainer.device)
    return {"steps": steps, "syncs_per_step": sum(found.values()), "where": found}


def _union_us(intervals: list[tuple[float, float]]) -> float:
    """Total length of the union of ``(start, end)`` intervals (overlapping streams once)."""
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if e > end:
            total += e - max(s, end)
            end = e
    return total


def summarise_profile(events: list, steps: int, cuda: bool) -> dict[str, Any]:
    """Per-step counts and times from a profiler's ``FunctionEvent`` list (times in ms)."""
    from torch.autograd import DeviceType

    ranges = sorted(
        (e.time_range.start, e.time_range.end)
        for e in events
        if e.name == STEP_LABEL and e.device_type == DeviceType.CPU
    )
    if not ranges:
        return {"error": f"no {STEP_LABEL!r} ranges in the trace"}
    n = len(ranges)

    def inside(e: Any) -> bool:
        start = e.time_range.start
        return any(s <= start < t for s, t in ranges)

    events = [e for e in events if e.name != STEP_LABEL and inside(e)]
    host = [e for e in events if e.device_type == DeviceType.CPU]
    device = [
        e
        for e in events
        if e.device_type != DeviceType.CPU and not getattr(e, "is_user_annotation", False)
    ]
    kernels = [e for e in device if not e.name.startswith(("Memcpy", "Memset"))]
    wall_us = sum(t - s for s, t in ranges) / n
    by_name: dict[str, int] = {}
    for e in host:
        by_name[e.name] = by_name.get(e.name, 0) + 1
    syncs = {k: v / n for k, v in sorted(by_name.items()) if k in SYNCS | HOST_READS}
    blocking = sum(v for k, v in syncs.items() if k in SYNCS)
    added = 1.0 if cuda else 0.0  # the benchmark's own synchronize closing each step
    out: dict[str, Any] = {
        "steps": n,
        "activities": ["cpu", "cuda"] if cuda else ["cpu"],
        "wall_ms_per_step": round(wall_us / 1e3, 3),
        "kernel_launches_per_step": sum(v for k, v in by_name.items() if k in LAUNCHES) / n,
        "device_events_seen": len(device),
        "device_kernels_per_step": len(kernels) / n,
        "memcpy_memset_per_step": (len(device) - len(kernels)) / n,
        "sync_events_per_step": syncs,
        "host_device_syncs_per_step": max(0.0, blocking - added) if cuda else None,
        # aten::item always goes through aten::_local_scalar_dense: count the latter
        "host_scalar_reads_per_step": syncs.get("aten::_local_scalar_dense", 0.0),
        "benchmark_syncs_per_step": added,
    }
    if cuda and device:  # no device events: CUPTI unavailable (e.g. under gVisor)
        busy = _union_us([(e.time_range.start, e.time_range.end) for e in device]) / n
        kernel = _union_us([(e.time_range.start, e.time_range.end) for e in kernels]) / n
        out["device_busy_ms_per_step"] = round(busy / 1e3, 3)
        out["kernel_ms_per_step"] = round(kernel / 1e3, 3)
        out["gpu_idle_share"] = round(1 - busy / wall_us, 4)
    else:
        out.update(device_busy_ms_per_step=None, kernel_ms_per_step=None, gpu_idle_share=None)
    key = "self_device_ms" if cuda else "self_cpu_ms"
    ops: dict[str, dict[str, float]] = {}
    for e in host:
        row = ops.setdefault(e.name, {"calls_per_step": 0.0, "self_device_ms": 0.0,
                                      "self_cpu_ms": 0.0})  # fmt: skip
        row["calls_per_step"] += 1 / n
        row["self_cpu_ms"] += e.self_cpu_time_total / 1e3 / n
        if cuda:
            row["self_device_ms"] += e.self_device_time_total / 1e3 / n
    top = sorted(ops.items(), key=lambda kv: -kv[1][key])[:15]
    out["top_ops_by"] = key
    out["top_ops"] = [{"name": k, **{f: round(v, 3) for f, v in row.items()}} for k, row in top]
    if cuda and kernels:
        per: dict[str, list[float]] = {}
        for e in kernels:
            per.setdefault(e.name, []).append(e.time_range.elapsed_us())
        heavy = sorted(per.items(), key=lambda kv: -sum(kv[1]))[:10]
        out["top_kernels"] = [
            {
                "name": k[:160],
                "calls_per_step": len(v) / n,
                "ms_per_step": round(sum(v) / n / 1e3, 3),
            }
            for k, v in heavy
        ]
    return out
