"""Checkpoints: ``config.json`` + ``model.safetensors`` (+ a ``README.md`` model card).

Loading reads safetensors only (never pickle), strictly: every tensor present with the
right shape. A name is resolved as: ``None`` -> the default checkpoint shipped inside the
package; an existing local folder; otherwise a Hugging Face Hub repo id (network only then).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from d2ca.config import CONFIG_NAME, WEIGHTS_NAME, D2CAConfig
from d2ca.errors import CheckpointError
from d2ca.io import OutputExistsError
from d2ca.models import D2CAModel

DEFAULT_CHECKPOINT = Path(__file__).parent / "pretrained" / "default"
CARD_NAME = "README.md"


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
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
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
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(
                f"{source}: tensor {name!r} has shape {tuple(tensor.shape)}, the config "
                f"expects {tuple(expected[name].shape)}"
            )
    model.load_state_dict(state, strict=True)


def load_folder(folder: str | Path, *, device: str | torch.device | None = None) -> D2CAModel:
    """Load a checkpoint folder (``config.json`` + ``model.safetensors``)."""
    folder = Path(folder)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder} is not a D2CA checkpoint: {name} is missing")
    try:
        config = D2CAConfig.load(folder)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {e}") from None
    model = D2CAModel(config)
    try:
        state = load_file(str(folder / WEIGHTS_NAME))
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(
            f"{folder / WEIGHTS_NAME} is not a valid safetensors file: {e}"
        ) from None
    load_state_strict(model, state, str(folder / WEIGHTS_NAME))
    return model.to(device or "cpu").eval()


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
