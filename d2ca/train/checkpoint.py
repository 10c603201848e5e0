"""Resumable training checkpoints: safetensors for tensors, JSON for the rest, no pickle.

A checkpoint is a folder ``checkpoints/step-00000100/`` holding

- ``model.safetensors``: the state dicts of the trained modules (``model.``, ``domain_head.``);
- ``state.safetensors``: every tensor of the optimiser states and the RNG states (the torch
  RNG state is a uint8 tensor already; numpy's key array is stored as int64);
- ``state.json``: the step and every non-tensor part, tensors replaced by ``{"tensor": key}``.

It is written into a hidden temporary folder that is renamed into place, so a crash (even a
SIGKILL) leaves either the complete folder or none; older checkpoints are then removed.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from d2ca.errors import CheckpointError
from d2ca.hub import load_state_strict

STEP_DIR = re.compile(r"^step-(\d+)$")
FILES = ("model.safetensors", "state.safetensors", "state.json")


def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Move the tensors of a nested dict/list/tuple into ``tensors``; return the JSON part."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {"tensor": prefix}
    if isinstance(obj, np.ndarray):
        tensors[prefix] = torch.from_numpy(obj.astype(np.int64))
        return {"ndarray": prefix, "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        return {"dict": [[k, _flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        items = [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": items}
    return {"value": obj}


def _unflatten(obj: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
    if "tensor" in obj:
        return tensors[obj["tensor"]]
    if "ndarray" in obj:
        return tensors[obj["ndarray"]].numpy().astype(obj["dtype"])
    if "dict" in obj:
        return {k: _unflatten(v, tensors) for k, v in obj["dict"]}
    if "list" in obj:
        return [_unflatten(v, tensors) for v in obj["list"]]
    if "tuple" in obj:
        return tuple(_unflatten(v, tensors) for v in obj["tuple"])
    return obj["value"]


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and Python RNG states."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    root: str | Path,
    step: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``root/step-<step>/`` atomically and remove older checkpoints of ``root``.

    Args:
        modules: name -> module whose state dict is saved (e.g. ``{"model": model}``).
        optimizers: name -> optimiser whose state is saved.
        extra: JSON-able values (and tensors) stored beside them, e.g. the metrics so far.

    Example:
        >>> save_checkpoint("run/checkpoints", 100, {"model": m}, {"g": opt})  # doctest: +SKIP
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    weights = {
        f"{name}.{k}": v.detach().cpu().contiguous()
        for name, module in modules.items()
        for k, v in module.state_dict().items()
    }
    tensors: dict[str, torch.Tensor] = {}
    meta = {
        "step": step,
        "optimizers": {
            n: _flatten(o.state_dict(), f"optim.{n}", tensors) for n, o in optimizers.items()
        },
        "rng": _flatten(rng_state(), "rng", tensors),
        "extra": _flatten(extra or {}, "extra", tensors),
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        save_file(weights, str(tmp / FILES[0]))
        save_file(tensors, str(tmp / FILES[1]))
        (tmp / FILES[2]).write_text(json.dumps(meta))
        if final.exists():  # the same step written again (e.g. a resumed final step)
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in root.iterdir():
        m = STEP_DIR.match(old.name)
        if (m and int(m.group(1)) != step) or (old.name.startswith(".step-") and old.is_dir()):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _match_param_layouts(opt: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor its parameter's memory format again.

    The files hold contiguous (NCHW) tensors; a channels_last parameter's fresh Adam state is
    channels_last, and fused Adam on CUDA refuses a mix ("must have same ... layout").
    """
    for group in opt.param_groups:
        for param in group["params"]:
            state = opt.state.get(param, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape:
                    state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def keep_best(best: dict[str, Any], evaluation: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """``best``, or a new best when ``evaluation`` (a trainer's record: ``step``,
    ``source_val``...) has a higher average source-validation F1 (a NaN never has): ``{"step",
    "avg_f1", "eval", "state"}``, ``state`` a CPU copy of ``model``'s weights. The record
    travels in the checkpoints (``extra["best"]``) for ``TrainConfig.select="source-val"``."""
    f1 = evaluation.get("source_val", {}).get("avg_f1", float("nan"))
    if not f1 > best.get("avg_f1", float("-inf")):
        return best
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return {"step": evaluation["step"], "avg_f1": f1, "eval": evaluation, "state": state}


def latest_checkpoint(root: str | Path) -> Path | None:
    """The complete checkpoint of the highest step under ``root`` (None if there is none)."""
    root = Path(root)
    if not root.is_dir():
        return None
    found = [
        (int(m.group(1)), p)
        for p in root.iterdir()
        if (m := STEP_DIR.match(p.name)) and all((p / f).is_file() for f in FILES)
    ]
    return max(found)[1] if found else None


def load_checkpoint(
    folder: str | Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    *,
    restore_rng: bool = True,
) -> tuple[int, dict[str, Any]]:
    """Restore modules, optimisers and (optionally) RNG states; return ``(step, extra)``."""
    folder = Path(folder)
    try:
        weights = load_file(str(folder / FILES[0]))
        tensors = load_file(str(folder / FILES[1]))
        meta = json.loads((folder / FILES[2]).read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{folder}: cannot read the checkpoint ({e})") from None
    for name, module in modules.items():
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
        load_state_strict(module, state, f"{folder / FILES[0]} [{name}]")
    for name, opt in optimizers.items():
        if name not in meta["optimizers"]:
            raise CheckpointError(f"{folder}: no state for optimiser {name!r}")
        opt.load_state_dict(_unflatten(meta["optimizers"][name], tensors))
        _match_param_layouts(opt)
    if restore_rng:
        set_rng_state(_unflatten(meta["rng"], tensors))
    return int(meta["step"]), _unflatten(meta["extra"], tensors)
