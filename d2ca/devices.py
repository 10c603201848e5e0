"""Choosing the torch device: ``auto`` is the GPU when there is one, and a device that does
not exist is refused before anything is loaded onto it."""

from __future__ import annotations

import torch

from d2ca.errors import DeviceError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The device ``name`` stands for, checked to exist on this machine.

    ``"auto"`` (or ``None``) is ``cuda`` when a CUDA GPU is present, else ``cpu``.

    Raises:
        DeviceError: an unknown device name, or a device this machine does not have.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(f"device {name!r} requested, but no CUDA GPU is available here")
        if device.index is not None and device.index >= count:
            raise DeviceError(f"device {name!r} requested, but this machine has {count} GPU(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {name!r} requested, but MPS is not available here")
    return device
