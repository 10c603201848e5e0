"""``d2ca adapt``: a thin command over :func:`d2ca.train.adapt.adapt`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from d2ca.cli.app import command
from d2ca.cli.train import (
    CheckpointEveryOption,
    LogEveryOption,
    ThreadsOption,
    TrainDeviceOption,
    _parse_set,
)
from d2ca.data.synth.presets import PRESETS


@command("adapt")
def adapt_command(
    target: Annotated[
        str, typer.Option(help="Prepared target, unlabelled: DIR with manifest.csv.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder.")],
    steps: Annotated[int, typer.Option(min=1, help="Optimisation steps (in total).")],
    source: Annotated[
        str | None, typer.Option(help="Labelled source: NAME:DIR (e.g. bp4d:data/bp4d) or DIR.")
    ] = None,
    synth: Annotated[
        str | None,
        typer.Option(help=f"Or a SynthAU source rendered for the run: {', '.join(PRESETS)}."),
    ] = None,
    synth_subjects: Annotated[int, typer.Option(help="SynthAU source subjects.")] = 40,
    synth_frames: Annotated[int, typer.Option(help="SynthAU source frames per subject.")] = 40,
    synth_seed: Annotated[int, typer.Option(help="SynthAU source seed.")] = 1,
    init: Annotated[
        str,
        typer.Option(help="Start: default (shipped), scratch, a checkpoint folder or Hub repo."),
    ] = "default",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="With --init scratch: architecture KEY=JSON, e.g. image_size=64 (repeatable).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per domain per step (default 16).")
    ] = None,
    subjects: Annotated[
        int | None, typer.Option(help="P subjects per source batch (default 8).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    checkpoint_every: CheckpointEveryOption = None,
    log_every: LogEveryOption = None,
    device: TrainDeviceOption = None,
    threads: ThreadsOption = None,
    report: Annotated[
        bool, typer.Option(help="Write OUT/report: what changed on the target.")
    ] = True,
    report_faces: Annotated[int, typer.Option(help="Faces per domain in the report.")] = 300,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start again in an --out that holds a run.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
) -> None:
    """Adapt a checkpoint to your unlabelled faces with the D2CA objective; report what changed."""
    from d2ca.train.adapt import SynthSource, adapt

    given = {
        "batch_size": batch_size,
        "subjects": subjects,
        "seed": seed,
        "checkpoint_every": checkpoint_every,
        "log_every": log_every,
        "device": device,
        "threads": threads,
    }
    options = {k: v for k, v in given.items() if v is not None}
    options["progress"] = progress
    result = adapt(
        target, out, steps=steps, source=source, init=init, model=_parse_set(set_ or []),
        synth=SynthSource(synth, synth_subjects, synth_frames, synth_seed) if synth else None,
        train_options=options, resume=resume, overwrite=overwrite, report=report,
        report_faces=report_faces,
    )  # fmt: skip
    typer.echo(f"adapted model: {result.model}")
    typer.echo(f"started from:  {result.start}")
    if result.report is not None:
        typer.echo(f"report:        {result.report}")
