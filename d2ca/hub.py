"""Checkpoints: ``config.json`` + ``model.safetensors`` (+ a ``README.md`` model card).

Loading reads safetensors only (never pickle), strictly, so that a checkpoint from a stranger
fails in one line and cannot exhaust memory: the config's types and bounds are checked, the
file's header is compared, tensor by tensor, with the networks the config describes (built on
the meta device, without memory) before any weight is read, and the weights must be finite.

A name is resolved as: ``None`` -> the default checkpoint shipped inside the package; an
existing local folder; otherwise a Hugging Face Hub repo id (network only then).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from d2ca.config import CONFIG_NAME, WEIGHTS_NAME, D2CAConfig
from d2ca.errors import CheckpointError
from d2ca.io import OutputExistsError
from d2ca.models import D2CAModel

DEFAULT_CHECKPOINT = Path(__file__).parent / "pretrained" / "default"
CARD_NAME = "README.md"
# A checkpoint may hold at most 2**28 (268 M) parameters, 1 GiB of float32: over 100 times the
# default (2.3 M), so that a stranger's config cannot ask for more memory than a laptop has.
MAX_PARAMETERS = 2**28
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})  # safetensors' names; cast on loading


def save_pretrained(
    model: D2CAModel, folder: str | Path, *, overwrite: bool = False, card: str | None = None
) -> Path:
    """Write ``config.json``, ``model.safetensors`` and optionally a model card, atomically.

    The files are written into a temporary sibling folder that is renamed into place, so a
    crash never leaves a half-written checkpoint.

    Example:
        >>> save_pretrained(D2CAModel(D2CAConfig(image_size=64)), "ckpt")  # doctest: +SKIP
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise OutputExistsError(f"{folder} exists (pass overwrite to replace it)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        model.config.save(tmp)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
        if card is not None:
            (tmp / CARD_NAME).write_text(card)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``state`` into ``model``; a missing, unexpected or misshapen tensor is an error."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    _check_shapes(expected, {name: tuple(t.shape) for name, t in state.items()}, source)
    model.load_state_dict(state, strict=True)


def _check_shapes(
    expected: Mapping[str, tuple[int, ...]], found: Mapping[str, tuple[int, ...]], source: str
) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        raise CheckpointError(
            f"{source}: tensor {missing[0]!r} missing from the weights"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    if unexpected:
        raise CheckpointError(
            f"{source}: unexpected tensor {unexpected[0]!r} in the weights"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
        )
    for name, shape in found.items():
        if shape != expected[name]:
            raise CheckpointError(
                f"{source}: tensor {name!r} has shape {shape}, the config expects {expected[name]}"
            )


def load_folder(folder: str | Path, *, device: str | torch.device | None = None) -> D2CAModel:
    """Load a checkpoint folder (``config.json`` + ``model.safetensors``).

    Raises:
        CheckpointError: a file missing, a config of wrong types or out of bounds, weights whose
            header disagrees with the config (found before anything is allocated), or weights
            that are not finite.
    """
    folder = Path(folder)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder} is not a D2CA checkpoint: {name} is missing")
    try:
        config = D2CAConfig.load(folder)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {e}") from None
    with torch.device("meta"):  # shapes and dtypes only
        expected = D2CAModel(config).state_dict()
    size = sum(t.numel() for t in expected.values())
    if size > MAX_PARAMETERS:
        raise CheckpointError(
            f"{folder / CONFIG_NAME}: the config asks for {size / 1e6:.0f} M parameters, more "
            f"than the {MAX_PARAMETERS / 1e6:.0f} M a D2CA checkpoint may have"
        )
    state = _read_weights(folder / WEIGHTS_NAME, expected)
    model = D2CAModel(config)
    model.load_state_dict(state, strict=True)
    return model.to(device or "cpu").eval()


def _read_weights(path: Path, expected: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of ``path``, read only once its header has the names, shapes and kinds of
    dtype of ``expected``; each floating-point tensor must be finite."""
    try:
        with safe_open(str(path), framework="pt") as f:
            header = {name: f.get_slice(name) for name in f.keys()}
            _check_shapes(
                {name: tuple(t.shape) for name, t in expected.items()},
                {name: tuple(info.get_shape()) for name, info in header.items()},
                str(path),
            )
            for name, info in header.items():
                allowed = FLOAT_DTYPES if expected[name].is_floating_point() else {"I64"}
                if info.get_dtype() not in allowed:
                    raise CheckpointError(
                        f"{path}: tensor {name!r} holds {info.get_dtype()} values, expected "
                        f"{' or '.join(sorted(allowed))}"
                    )
            state = {name: f.get_tensor(name) for name in header}
    except (SafetensorError, RuntimeError) as e:  # RuntimeError: a file too large to map
        raise CheckpointError(f"{path} is not a valid safetensors file: {e}") from None
    for name, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values")
    return state


def resolve(name_or_path: str | Path | None = None, *, revision: str | None = None) -> Path:
    """The local folder of a checkpoint: the shipped default, a folder, or a Hub snapshot."""
    if name_or_path is None:
        if not (DEFAULT_CHECKPOINT / WEIGHTS_NAME).is_file():
            raise CheckpointError(
                f"the default checkpoint is not shipped in this installation ({DEFAULT_CHECKPOINT})"
            )
        return DEFAULT_CHECKPOINT
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(
                f"{path} is a file; a checkpoint is a folder with {CONFIG_NAME} and {WEIGHTS_NAME}"
            )
        return path
    name = str(name_or_path)
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        raise CheckpointError(
            f"{name}: no such checkpoint folder (and not a Hub repo id 'org/name')"
        )
    return _download(name, revision)


def _download(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME],
            # offline: the cache alone, so that no version of huggingface_hub tries the network
            local_files_only=constants.HF_HUB_OFFLINE,
        )
    except RepositoryNotFoundError:
        raise CheckpointError(f"Hub repo {repo_id!r} not found (or it is private)") from None
    except RevisionNotFoundError:
        raise CheckpointError(f"Hub repo {repo_id!r} has no revision {revision!r}") from None
    except LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE:
            raise CheckpointError(
                f"Hub repo {repo_id!r} is not in the local cache and HF_HUB_OFFLINE=1 is set; "
                "download it once with a network or pass a local checkpoint folder"
            ) from None
        raise CheckpointError(
            f"cannot reach the Hub for {repo_id!r} and it is not cached; connect to a network, "
            "or set HF_HUB_OFFLINE=1 and use a cached repo or a local folder"
        ) from None
    return Path(folder)


def load_pretrained(
    name_or_path: str | Path | None = None,
    *,
    revision: str | None = None,
    device: str | torch.device | None = None,
) -> D2CAModel:
    """Load a D2CA checkpoint; see :func:`resolve` for how the name is interpreted."""
    return load_folder(resolve(name_or_path, revision=revision), device=device)


def push_to_hub(
    folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None
) -> str:
    """Upload a checkpoint folder (config, weights, model card) to a Hub model repo."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    load_folder(folder)  # refuse to publish something that does not load
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME],
        commit_message="Upload D2CA checkpoint",
    )
    return str(info)
