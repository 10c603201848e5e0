"""A training run's folder: which files make a run, when a folder may be (re)used, and the
metrics log that a resumed run continues.

Run folder::

    OUT/train_config.json           the TrainConfig
    OUT/metrics.jsonl               one JSON object per logged step and per evaluation
    OUT/checkpoints/step-XXXXXXXX/  the latest resumable checkpoint
    OUT/model/                      the final checkpoint (config.json, model.safetensors,
                                    README.md model card), loadable with d2ca.hub
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import IO, Any

from d2ca.errors import InputError
from d2ca.io import OutputExistsError, atomic_path
from d2ca.train.config import RESUMABLE_CHANGES, TRAIN_CONFIG_NAME, TrainConfig

METRICS_NAME = "metrics.jsonl"
RUN_FILES = (TRAIN_CONFIG_NAME, METRICS_NAME, "checkpoints", "model")


def check_run_folder(
    out: Path, config: TrainConfig, *, resume: bool, overwrite: bool, refuse: bool = True
) -> bool:
    """Refuse a folder holding a run unless resuming (with a compatible config) or
    overwriting; return whether the folder must be (re)initialised.

    ``refuse``: whether this process refuses an occupied folder (rank 0 only, under DDP).
    """
    if resume and (out / TRAIN_CONFIG_NAME).exists():
        saved = TrainConfig.load(out)
        changed = [k for k in saved.changes(config) if k not in RESUMABLE_CHANGES]
        if changed:
            raise InputError(
                f"cannot resume {out} with different {', '.join(changed)} "
                f"(saved in {out / TRAIN_CONFIG_NAME}); only "
                f"{', '.join(sorted(RESUMABLE_CHANGES))} may change"
            )
        return bool(saved.changes(config))
    existing = [n for n in RUN_FILES if (out / n).exists()]
    if existing and not (resume or overwrite) and refuse:
        raise OutputExistsError(
            f"{out} already holds a run ({', '.join(existing)}); pass --resume to continue "
            "it or --overwrite to start again"
        )
    return True


def init_run_folder(out: Path, config: TrainConfig, *, overwrite: bool) -> None:
    """Write ``train_config.json``, first removing the old run's files with ``overwrite``."""
    if overwrite:
        for name in RUN_FILES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    config.save(out, overwrite=True)


def write_record(handle: IO[str] | None, record: dict[str, Any]) -> None:
    """Append one JSON line to the metrics log (``None``: a process that does not log)."""
    if handle is not None:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def truncate_metrics(out: Path, step: int) -> None:
    """Drop log lines written after ``step``, the checkpoint a run resumes from."""
    path = out / METRICS_NAME
    if not path.exists():
        return
    lines = [
        ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step
    ]
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text("".join(ln + "\n" for ln in lines))
