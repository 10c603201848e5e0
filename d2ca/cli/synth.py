"""``d2ca synth``: render a SynthAU dataset (face crops + manifest) for one domain preset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from d2ca.cli.app import command
from d2ca.data.synth.presets import PRESETS


@command("synth")
def synth(
    out_dir: Annotated[Path, typer.Argument(help="output folder: images/ and manifest.csv")],
    preset: Annotated[str, typer.Option(help=f"domain preset: {', '.join(PRESETS)}")] = "lab-a",
    subjects: Annotated[int, typer.Option(help="number of subjects (split train/val/test)")] = 20,
    frames: Annotated[int, typer.Option(help="frames rendered per subject")] = 30,
    size: Annotated[int, typer.Option(help="crop side in pixels")] = 128,
    seed: Annotated[int, typer.Option(help="master seed: same arguments, same dataset")] = 0,
    workers: Annotated[int, typer.Option(help="rendering processes (output is the same)")] = 1,
    overwrite: Annotated[bool, typer.Option(help="replace an existing dataset in OUT_DIR")] = False,
) -> None:
    """Render SynthAU faces with known AU labels, subjects and domain.

    Example: ``d2ca synth data/synth-wild --preset wild --subjects 20 --frames 30``
    """
    from d2ca.data.synth import render_dataset

    manifest = render_dataset(
        out_dir,
        preset,
        subjects=subjects,
        frames_per_subject=frames,
        size=size,
        seed=seed,
        overwrite=overwrite,
        workers=workers,
        progress=True,
    )
    typer.echo(str(manifest))
