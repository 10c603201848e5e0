"""Choosing the torch device: ``auto`` is the GPU when there is one (CUDA, then Apple's MPS),
and a device that does not exist is refused before anything is loaded onto it."""

from __future__ import annotations

import torch

from d2ca.errors import DeviceError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The device ``name`` stands for, checked to exist on this machine.

    ``"auto"`` (or ``None``) is the current CUDA GPU when there is one, else Apple's MPS
    where torch offers it, else the CPU. ``"cuda"`` without an index is the current CUDA
    device, returned with its index (``torch.cuda.set_device`` needs one).

    Raises:
        DeviceError: an unknown device name, or a device this machine does not have.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if name is None or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(f"device {name!r} requested, but no CUDA GPU is available here")
        if device.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        if device.index >= count:
            raise DeviceError(f"device {name!r} requested, but this machine has {count} GPU(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {name!r} requested, but MPS is not available here")
    return device
