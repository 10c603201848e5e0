"""``d2ca synth``: render a SynthAU dataset (face crops + manifest) for one domain preset."""

from __future__ import annotations

from pathlib import Path

import typer

from d2ca.cli.app import command


@command("synth")
def synth(
    out_dir: Path = typer.Argument(..., help="Output folder: images/ and manifest.csv."),
    preset: str = typer.Option("lab-a", help="Domain preset: lab-a, lab-b, social or wild."),
    subjects: int = typer.Option(20, help="Number of subjects (split train/val/test)."),
    frames: int = typer.Option(30, help="Frames rendered per subject."),
    size: int = typer.Option(128, help="Crop side in pixels."),
    seed: int = typer.Option(0, help="Master seed; the same arguments give the same dataset."),
    workers: int = typer.Option(1, help="Rendering processes (the output does not depend on it)."),
    overwrite: bool = typer.Option(False, help="Replace an existing dataset in OUT_DIR."),
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
