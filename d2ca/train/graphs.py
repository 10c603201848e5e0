"""A training step captured once as a CUDA graph and replayed (``--cuda-graphs``).

A D2CA step at batch 128 launches about 5,600 small kernels, and on an H200 the GPU idled
58% of an eager step waiting for the host to launch them (docs/performance.md, "On a GPU").
Replaying a captured graph launches them all at once. This is PyTorch's whole-network
capture (https://pytorch.org/docs/stable/notes/cuda.html#whole-network-capture): warm-up
steps on a side stream, then one capture of forward, backward and both optimiser updates
into static memory, then replays that read each new batch from static input tensors.

What the step must respect to be captured (the trainer arranges it): shapes and Python
control flow fixed from step to step, no host read of a device value, every per-step
number (the ramp-up weight of ``L_au^t``) held in a device tensor, Adam ``capturable``,
autocast without its weight cache. A step that differs (a diagnostics step, the source-only
warm-up) runs eagerly between replays: it allocates its own gradients and leaves the
graph's static ones alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Step = Callable[[tuple[torch.Tensor, ...]], dict[str, torch.Tensor]]


class GraphedStep:
    """``step(batch)`` run eagerly ``warmup`` times, then captured and replayed.

    Args:
        step: one training step; returns its loss terms (device tensors).
        warmup: eager calls, on a side stream, before the capture (cuDNN's algorithm
            search and the optimiser's lazily created state happen there).

    The returned terms of a replay are the graph's static outputs: read them (or copy them)
    before the next call, which overwrites them.
    """

    def __init__(self, step: Step, warmup: int = 3) -> None:
        self.step = step
        self.warmup = warmup
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: tuple[torch.Tensor, ...] = ()
        self.outputs: dict[str, torch.Tensor] = {}

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.graph is None and self.calls <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.step(batch)
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.graph is None:
            self.inputs = tuple(t.clone() for t in batch)
            torch.cuda.synchronize()
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.outputs = self.step(self.inputs)
        else:
            for static, new in zip(self.inputs, batch, strict=True):
                static.copy_(new, non_blocking=True)
        self.graph.replay()  # capturing ran nothing: the first replay is this batch's step
        return self.outputs
