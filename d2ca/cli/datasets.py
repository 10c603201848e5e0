"""CLI commands for the datasets and the paper's tables: prepare, evaluate, fid, plot, push."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from d2ca.cli.app import app, command

plot_app = typer.Typer(
    help="Figures: t-SNE of AU features (the paper's Fig. 12).", no_args_is_help=True
)
app.add_typer(plot_app, name="plot")


@command("prepare")
def prepare_command(
    dataset: Annotated[str, typer.Argument(help="bp4d, bp4d+, disfa, gft or affwild2")],
    root: Annotated[Path, typer.Argument(help="the dataset folder as distributed")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (rerun to resume)")],
    size: Annotated[int, typer.Option(help="side of the aligned face crops")] = 128,
    workers: Annotated[int, typer.Option(help="detection processes")] = 1,
    device: Annotated[str, typer.Option(help="torch device of the face detector")] = "cpu",
    min_face_size: Annotated[int, typer.Option(help="smallest face searched for (px)")] = 40,
    folds: Annotated[
        Path | None, typer.Option(help="folds.json to use instead of the default folds")
    ] = None,
    partitions: Annotated[
        Path | None, typer.Option(help="GFT: subject,split CSV (default ROOT/partitions.csv)")
    ] = None,
    camera: Annotated[str, typer.Option(help="DISFA: left or right camera")] = "left",
) -> None:
    """Detect and align every labelled frame once; write crops, manifest.csv and the folds."""
    from d2ca.data.prepare import prepare
    from d2ca.data.readers import dataset_key

    options: dict[str, object] = {}
    key = dataset_key(dataset)
    if key == "gft" and partitions is not None:
        options["partitions"] = partitions
    if key == "disfa":
        options["camera"] = camera
    s = prepare(
        key, root, out, size=size, workers=workers, device=device,
        min_face_size=min_face_size, folds=folds, **options,
    )  # fmt: skip
    typer.echo(
        f"{s.frames} frames: {s.computed} computed, {s.reused} reused, "
        f"{s.no_face} without a face (listed in {s.out / 'no_face.csv'}); wrote {s.manifest}"
    )
