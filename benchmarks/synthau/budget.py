"""Training runs against a deadline: resumable stretches, and whether a run still fits.

A device call has a fixed time (``run_table.py --budget-s``). :func:`train` trains a run in
stretches of ``checkpoint_every`` steps, each ending with a checkpoint, and stops between two
when the next would end too late; :func:`fits` tells the driver whether a run (what is left
of it) is expected to end in time, from the scale's seconds per step.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path

from scales import Scale

from d2ca.data.manifest import read_manifest
from d2ca.train.checkpoint import latest_checkpoint
from d2ca.train.config import TRAIN_CONFIG_NAME, TrainConfig
from d2ca.train.run_folder import METRICS_NAME


class OutOfTime(Exception):
    """The deadline stopped a run at a checkpoint; the next invocation resumes it."""


def train(config: TrainConfig, deadline: float | None = None, margin: float = 0.0) -> float | None:
    """Train one run to its end (:class:`d2ca.train.trainer.Trainer`), resuming its latest
    checkpoint; returns its wall time (s), or None when it resumed one.

    It trains ``checkpoint_every`` steps at a time, each stretch ending with a checkpoint, and
    before each stretch checks that it (at the pace of the last one) ends ``margin`` seconds
    before ``deadline`` (``time.time()`` seconds); else it raises :class:`OutOfTime`, the last
    checkpoint kept. A run stopped outright loses the steps since its last checkpoint.
    """
    from d2ca.train.trainer import Trainer

    t0 = time.time()
    resume = latest_checkpoint(Path(config.out_dir) / "checkpoints") is not None
    trainer = Trainer(config, resume=resume, overwrite=not resume)
    pace = None  # seconds per step of the last stretch
    while True:
        stretch = min(config.checkpoint_every, max(0, trainer.total_steps - trainer.step))
        if (
            deadline is not None
            and pace is not None
            and (time.time() + pace * stretch + margin > deadline)
        ):
            raise OutOfTime(f"stopped at step {trainer.step} of {trainer.total_steps}")
        t1, step = time.time(), trainer.step
        if trainer.train(until=trainer.step + stretch) is not None:
            return None if resume else time.time() - t0
        pace = (time.time() - t1) / max(1, trainer.step - step)


def steps_per_epoch(config: TrainConfig) -> int:
    """Steps of one pass over the train split the run's method trains on (as the trainer
    counts them: the source's, the target's for Target only)."""
    main = config.target if config.method == "target-only" else config.source
    return math.ceil(len(read_manifest(main).split("train")) / config.batch_size)


def steps_left(config: TrainConfig) -> int:
    """Steps a run still has to train: its budget less its latest checkpoint's step."""
    out = Path(config.out_dir)
    if (out / "model" / "config.json").is_file():
        return 0
    total = config.steps or config.epochs * steps_per_epoch(config)
    last = latest_checkpoint(out / "checkpoints")
    return total - (int(last.name.split("-")[1]) if last else 0)


def fits(scale: Scale, config: TrainConfig, deadline: float | None, partial: bool) -> bool:
    """Whether what is left of a run (``partial``: its next stretch) is expected to end
    before ``deadline``, at the scale's seconds per step and per run."""
    if deadline is None:
        return True
    left = steps_left(config)
    if partial:
        left = min(left, config.checkpoint_every)
    need = scale.run_s + left * scale.step_s[config.method] + scale.stop_margin_s
    return time.time() + need <= deadline


def extend_shorter(out: Path) -> str | None:
    """Start the run of ``out`` (a folder named ``...__steps{N}...``) from the longest run of
    the same name and options with fewer steps that has a checkpoint: a copy of its
    checkpoints, log and config, which :func:`train` resumes (nothing in a training step
    depends on the total). Returns that run's folder name (also in ``out/extended_from``), or
    None when there is none."""
    match = re.fullmatch(r"(.*__steps)(\d+)(.*)", out.name)
    if match is None:  # an epoch budget: no shorter run by steps
        return None
    head, steps, tail = match.groups()
    pattern = re.escape(head) + r"(\d+)" + re.escape(tail)
    shorter = [(int(m[1]), p.name) for p in out.parent.glob(f"{head}*{tail}")
               if (m := re.fullmatch(pattern, p.name)) and int(m[1]) < int(steps)
               and latest_checkpoint(p / "checkpoints")]  # fmt: skip
    if not shorter:
        return None
    source = out.parent / max(shorter)[1]
    shutil.copytree(source / "checkpoints", out / "checkpoints")
    for name in (TRAIN_CONFIG_NAME, METRICS_NAME):
        shutil.copy2(source / name, out / name)
    (out / "extended_from").write_text(source.name + "\n")
    return source.name
