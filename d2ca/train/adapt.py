"""``d2ca adapt``: a checkpoint adapted, without target labels, to a user's prepared faces.

A labelled source (a prepared dataset, or SynthAU rendered for the run) and the unlabelled
target (usually ``d2ca prepare folder``) are trained on with the D2CA objective exactly as
``d2ca train --method d2ca`` does, with :class:`~d2ca.train.config.TrainConfig`'s defaults;
only the starting weights differ. Run folder, beside the trainer's own files::

    OUT/adapt.json   start checkpoint, source, target: what a --resume must repeat
    OUT/source/      the SynthAU source rendered for the run (with a synth source)
    OUT/start/       the model training started from (loadable checkpoint)
    OUT/model/       the adapted checkpoint; its provenance and card name both data sets
    OUT/report/      report.md and figures: what changed on the target (adapt_report)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from d2ca.config import D2CAConfig
from d2ca.data.manifest import parse_data_spec, read_manifest
from d2ca.devices import resolve_device
from d2ca.errors import InputError
from d2ca.hub import load_pretrained, load_state_strict, save_pretrained
from d2ca.io import OutputExistsError, atomic_path
from d2ca.models import D2CAModel
from d2ca.train.config import TrainConfig
from d2ca.train.run_folder import RUN_FILES
from d2ca.train.trainer import Trainer

ADAPT_NAME = "adapt.json"
# D2CAConfig fields a start checkpoint fixes (the shapes of its weights and its input);
# the objective's weights are not among them: they stay the trainer's defaults.
ARCHITECTURE = (
    "image_size", "in_channels", "mean", "std", "enc_widths", "enc_strides", "dec_widths",
    "dec_aux_channels", "dec_aux_au", "disc_widths", "disc_scales", "proj_hidden", "proj_dim",
)  # fmt: skip


@dataclass(frozen=True)
class SynthSource:
    """A SynthAU source rendered into ``OUT/source`` at the model's image size."""

    preset: str = "lab-a"
    subjects: int = 40
    frames: int = 40
    seed: int = 1

    def describe(self) -> str:
        return (
            f"SynthAU preset {self.preset}, {self.subjects} subjects x {self.frames} frames, "
            f"seed {self.seed}, rendered by d2ca adapt"
        )


@dataclass(frozen=True)
class AdaptResult:
    """Folders a :func:`adapt` run wrote (``report`` is None when no report was asked for)."""

    model: Path
    start: Path
    report: Path | None


def start_from(model: D2CAModel, start: D2CAModel, name: str) -> list[str]:
    """Copy ``start``'s weights into ``model``; the classifier's rows follow the AU names.

    Returns:
        The AUs of ``model`` that ``start`` lacks (their classifier rows keep ``model``'s
        initialisation).

    Raises:
        CheckpointError: the architectures differ.
    """
    state = dict(start.state_dict())
    own = model.state_dict()
    names = start.config.au_names
    for key in ("classifier.fc.weight", "classifier.fc.bias"):
        rows = own[key].clone()
        for i, au in enumerate(model.config.au_names):
            if au in names:
                rows[i] = state[key][names.index(au)]
        state[key] = rows
    load_state_strict(model, state, name)
    return [a for a in model.config.au_names if a not in names]


def adapt(
    target: str | Path,
    out: str | Path,
    *,
    steps: int,
    source: str | None = None,
    synth: SynthSource | None = None,
    init: str = "default",
    model: dict[str, Any] | None = None,
    train_options: dict[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    report: bool = True,
    report_faces: int = 300,
) -> AdaptResult:
    """Adapt a checkpoint (or a fresh model) to an unlabelled target with the D2CA objective.

    Args:
        target: the prepared target: a folder holding ``manifest.csv`` (``NAME:DIR`` works).
            Its labels, if any, are never used for training.
        out: run folder.
        steps: optimisation steps (in total, counting those of a resumed run).
        source: a prepared labelled source, ``NAME:DIR`` or ``DIR``; or
        synth: a SynthAU source rendered for the run (give exactly one of the two).
        init: ``"default"`` (the shipped checkpoint), ``"scratch"``, a checkpoint folder or
            a Hub repo id.
        model: architecture fields of a ``scratch`` model (:data:`ARCHITECTURE`, e.g.
            ``{"image_size": 64}``).
        train_options: other :class:`TrainConfig` fields (``batch_size``, ``seed``,
            ``device``, ``threads``...); the method is ``d2ca`` and its weights the defaults.
        resume: continue the run in ``out`` (same target, source and start).
        overwrite: start again in an ``out`` that holds a run.
        report: write ``OUT/report`` (:func:`d2ca.train.adapt_report.adaptation_report`).
        report_faces: faces per domain drawn for the report.

    Example:
        >>> result = adapt("prepared/mine", "runs/mine", steps=2000,
        ...                synth=SynthSource("lab-a"))  # doctest: +SKIP
        >>> result.model  # doctest: +SKIP
        PosixPath('runs/mine/model')
    """
    out = Path(out)
    if (source is None) == (synth is None):
        raise InputError("give a labelled source (--source) or a SynthAU preset (--synth)")
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other")
    if model and init != "scratch":
        raise InputError("model options (--set) apply only with --init scratch")
    other = sorted(set(model or {}) - set(ARCHITECTURE))
    if other:
        raise InputError(
            f"--set {other[0]}: d2ca adapt sets only the architecture ({', '.join(ARCHITECTURE)}); "
            "the objective keeps the trainer's defaults"
        )
    _, target_path = parse_data_spec(target)
    if target_path.is_dir() and not (target_path / "manifest.csv").is_file():
        found = (target_path / "no_face.csv").is_file()
        raise InputError(
            f"{target_path}: no manifest.csv; "
            + ("d2ca prepare found no face in any of its frames (no_face.csv)" if found
               else "prepare the target first: d2ca prepare folder ROOT --out DIR")
        )  # fmt: skip
    target_manifest = read_manifest(target_path)  # fail early: no manifest, bad rows

    # 1. the run folder: what is adapted must match a resumed run
    plan = {"init": init, "source": source, "synth": asdict(synth) if synth else None,
            "target": str(target)}  # fmt: skip
    _check_plan(out, plan, resume=resume, overwrite=overwrite)

    # 2. the start: a checkpoint's architecture, or the config of a fresh model
    start = None if init == "scratch" else load_pretrained(None if init == "default" else init)
    arch = (
        dict(model or {})
        if start is None
        else {f: json.loads(json.dumps(getattr(start.config, f))) for f in ARCHITECTURE}
    )

    # 3. the trainer's configuration: the D2CA objective with TrainConfig's defaults
    if synth is not None:
        source = f"synthau:{out / 'source'}"
    options = dict(train_options or {})
    config = TrainConfig(source=str(source), target=str(target), method="d2ca", model=arch,
                         steps=steps, out_dir=str(out), **options)  # fmt: skip
    device = resolve_device(config.device)  # refused before anything is rendered

    # 4. the source, rendered at the model's input size when it is SynthAU; the trainer
    if synth is not None:
        size = arch.get("image_size", D2CAConfig.image_size)
        _render_source(out / "source", synth, size, progress=config.progress)
    adaptation = {
        "init": init,
        "source": synth.describe() if synth else f"`{source}`",
        "target": str(target),
        "target_faces": len(target_manifest),
        "target_subjects": len(set(target_manifest.subjects)),
        "target_labels_used": False,
    }
    trainer = Trainer(config, resume=resume, overwrite=overwrite,
                      provenance={"adaptation": adaptation})  # fmt: skip
    with atomic_path(out / ADAPT_NAME, overwrite=True) as tmp:  # the data proved usable
        tmp.write_text(json.dumps(plan, indent=2) + "\n")
    if trainer.step == 0:
        if start is not None:
            new = start_from(trainer.model, start, f"start checkpoint {init}")
            if new:
                trainer.log(
                    f"new to the start checkpoint (classifier rows untrained): {', '.join(new)}"
                )
        save_pretrained(trainer.model, out / "start", overwrite=True)
    model_dir = trainer.train()
    assert model_dir is not None  # one process: train() runs to the end

    # 5. what changed on the target
    report_path = None
    if report:
        from d2ca.train.adapt_report import adaptation_report

        source_manifest = read_manifest(parse_data_spec(str(source))[1])
        if "split" in (source_manifest.rows or [{}])[0]:  # faces the training did not see
            source_manifest = source_manifest.split("test")
        start_model, adapted = (
            load_pretrained(folder, device=device) for folder in (out / "start", model_dir)
        )
        report_path = adaptation_report(
            start_model, adapted, source_manifest,
            target_manifest, out / "report", start_name=init, faces=report_faces,
            source_name=synth.preset if synth else parse_data_spec(str(source))[1].name,
            target_name=target_path.name, device=device,
        )  # fmt: skip
    return AdaptResult(model_dir, out / "start", report_path)


def _render_source(folder: Path, synth: SynthSource, size: int, *, progress: bool) -> None:
    """Render the SynthAU source once; a finished render must be of these arguments."""
    from d2ca.data.synth import render_dataset

    if (folder / "manifest.csv").is_file():
        made = json.loads((folder / "synthau.json").read_text())
        found = (made["preset"]["name"], made["subjects"], made["frames_per_subject"],
                 made["size"], made["seed"])  # fmt: skip
        if found != (synth.preset, synth.subjects, synth.frames, size, synth.seed):
            raise InputError(f"{folder} holds another SynthAU render; pass --overwrite")
        return
    render_dataset(folder, synth.preset, subjects=synth.subjects,
                   frames_per_subject=synth.frames, size=size, seed=synth.seed,
                   progress=progress)  # fmt: skip


def _check_plan(out: Path, plan: dict[str, Any], *, resume: bool, overwrite: bool) -> None:
    """Refuse another run's folder unless resuming it unchanged or overwriting it."""
    path = out / ADAPT_NAME
    saved = json.loads(path.read_text()) if path.is_file() else None
    if overwrite:
        for name in ("source", "start", "report"):
            if (out / name).is_dir():
                shutil.rmtree(out / name)
        return
    if saved is None and not any((out / n).exists() for n in RUN_FILES):
        return
    if not resume:
        raise OutputExistsError(
            f"{out} already holds a run; pass --resume to continue it or --overwrite to start again"
        )
    if saved is None:
        raise InputError(f"{out} holds a training run that d2ca adapt did not start")
    changed = [k for k in plan if saved.get(k) != plan[k]]
    if changed:
        raise InputError(
            f"cannot resume {out} with a different {', '.join(changed)} (saved in {path})"
        )
