"""CLI commands for the datasets and the paper's tables: prepare, evaluate, fid, plot, push."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from d2ca.cli.app import DeviceOption, app, command
from d2ca.data.manifest import Manifest, parse_data_spec, read_manifest
from d2ca.errors import CheckpointError, InputError

plot_app = typer.Typer(
    help="Figures: t-SNE of AU features (the paper's Fig. 12), a training run's curves.",
    no_args_is_help=True,
)
app.add_typer(plot_app, name="plot")


@command("prepare")
def prepare_command(
    dataset: Annotated[
        str, typer.Argument(help="bp4d, bp4d+, disfa, gft, affwild2, or folder (any folder)")
    ],
    root: Annotated[Path, typer.Argument(help="the dataset folder as distributed, or any folder")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="output folder (rerun to resume)")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="read names and labels only; print what a run uses")
    ] = False,
    size: Annotated[int, typer.Option(help="side of the aligned face crops")] = 128,
    workers: Annotated[int, typer.Option(help="detection processes")] = 1,
    device: DeviceOption = "auto",
    min_face_size: Annotated[int, typer.Option(help="smallest face searched for (px)")] = 40,
    max_side: Annotated[
        int, typer.Option(help="downscale frames to this longer side for detection; 0: never")
    ] = 640,
    folds: Annotated[
        Path | None, typer.Option(help="folds.json to use instead of the default folds")
    ] = None,
    partitions: Annotated[
        Path | None, typer.Option(help="GFT: subject,split CSV (default ROOT/partitions.csv)")
    ] = None,
    camera: Annotated[str, typer.Option(help="DISFA: left or right camera")] = "left",
    frame_offset: Annotated[
        str, typer.Option(help="BP4D+: image number = CSV frame + OFFSET: auto, 0 or -1")
    ] = "auto",
    every: Annotated[int, typer.Option(min=1, help="folder: every N-th video frame")] = 1,
    labels: Annotated[
        list[Path] | None, typer.Option(help="folder: labels CSV, ours or OpenFace's (repeatable)")
    ] = None,
    subjects: Annotated[
        Path | None, typer.Option(help="folder: file,subject CSV (default: per video / folder)")
    ] = None,
) -> None:
    """Detect and align every labelled frame once; write crops, manifest.csv and the folds.

    ``d2ca prepare folder ROOT --out DIR`` does the same for any folder of images and videos
    (docs/your-data.md).
    """
    from d2ca.data.prepare import prepare
    from d2ca.data.readers import dataset_key
    from d2ca.data.survey import format_survey, survey
    from d2ca.devices import resolve_device

    device = str(resolve_device(device))  # text: detection processes receive it

    if dataset.lower() == "folder":
        from d2ca.data.prepare_folder import prepare_folder

        if check or out is None:
            raise InputError("d2ca prepare folder needs --out DIR (--check is for the datasets)")
        summary = prepare_folder(
            root, out, every=every, labels=labels or (), subjects=subjects, size=size,
            workers=workers, device=device, min_face_size=min_face_size,
            max_side=max_side or None,
        )  # fmt: skip
        typer.echo("\n".join(summary.lines()))
        return
    if every != 1 or labels or subjects:
        raise InputError("--every, --labels and --subjects are options of d2ca prepare folder")

    options: dict[str, object] = {}
    key = dataset_key(dataset)
    if key == "gft" and partitions is not None:
        options["partitions"] = partitions
    if key == "disfa":
        options["camera"] = camera
    if key == "bp4d+":
        options["frame_offset"] = frame_offset
    if check:
        typer.echo(format_survey(survey(key, root, folds=folds, **options)))
        return
    if out is None:
        raise InputError("--out DIR is required (or --check for a dry run)")
    s = prepare(
        key, root, out, size=size, workers=workers, device=device,
        min_face_size=min_face_size, max_side=max_side or None, folds=folds,
        on_survey=lambda found: typer.echo(format_survey(found)), **options,
    )  # fmt: skip
    typer.echo(
        f"{s.frames} frames: {s.computed} computed, {s.reused} reused, "
        f"{s.no_face} without a face (listed in {s.out / 'no_face.csv'}), "
        f"{s.no_image} labelled frames without an image (listed in {s.out / 'no_image.csv'}); "
        f"wrote {s.manifest}"
    )


def _target_dataset(name: str | None, path: Path) -> str | None:
    """The dataset a manifest comes from: the ``NAME:`` of the spec, else ``prepare.json``."""
    if name:
        return name
    meta = (path if path.is_dir() else path.parent) / "prepare.json"
    return json.loads(meta.read_text()).get("dataset") if meta.is_file() else None


def select_rows(manifest: Manifest, split: str, fold: int | None) -> tuple[Manifest, str]:
    """The rows to evaluate and a description: fold ``K`` if given, else the split if the
    manifest has one, else every row."""
    first = manifest.rows[0] if manifest.rows else {}
    if fold is not None:
        if "fold" not in first:
            raise InputError(f"{manifest.root}: the manifest has no fold column for --fold")
        chosen, what = (
            manifest.select([r["fold"] == str(fold) for r in manifest.rows]),
            f"fold {fold}",
        )
    elif "split" in first:
        chosen, what = manifest.split(split), f"split {split}"
    else:
        chosen, what = manifest, "all rows"
    if not len(chosen):
        raise InputError(f"{manifest.root}: no faces in {what}")
    return chosen, what


@command("evaluate")
def evaluate_command(
    model: Annotated[str, typer.Argument(help="checkpoint folder or Hub repo id")],
    data: Annotated[str, typer.Option(help="NAME:DIR (e.g. disfa:prepared/disfa) or a manifest")],
    split: Annotated[str, typer.Option(help="split to score when the manifest has one")] = "test",
    fold: Annotated[int | None, typer.Option(help="score fold K (BP4D, BP4D+, DISFA)")] = None,
    paper: Annotated[
        str | None, typer.Option(help="source dataset: print the paper's rows for SOURCE -> data")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    batch_size: Annotated[int, typer.Option(help="faces per forward pass")] = 64,
    device: DeviceOption = "auto",
) -> None:
    """Per-AU F1 and their average on the AUs the model and data share, like the paper's tables."""
    from d2ca.aus import DATASET_AUS
    from d2ca.devices import resolve_device
    from d2ca.evaluation import evaluate
    from d2ca.evaluation.tables import format_table, paper_rows, published_table
    from d2ca.hub import load_pretrained

    device = resolve_device(device)
    name, path = parse_data_spec(data)
    manifest, what = select_rows(read_manifest(path), split, fold)
    net = load_pretrained(model, device=device)
    names = [a for a in net.config.au_names if a in manifest.au_names]
    table = None
    if paper is not None:
        target = _target_dataset(name, path)
        if target is None:
            raise InputError(f"--paper needs the target dataset: give --data NAME:{path}")
        if paper.lower() not in DATASET_AUS:
            raise InputError(f"--paper {paper!r}: unknown dataset; known: {', '.join(DATASET_AUS)}")
        table = published_table(paper, target)
        names = [a for a in table.aus if a in names]
    if not names:
        raise InputError(
            f"no AUs to evaluate: the model predicts {', '.join(net.config.au_names)}; "
            f"{path} has {', '.join(manifest.au_names)}"
        )
    result = evaluate(net, manifest, au_names=names, batch_size=batch_size, device=device)
    if as_json:
        out = {"model": model, "data": data, "selection": what, **result}
        if table is not None:
            out["published"] = {"table": table.table, "unit": "%", "aus": list(table.aus),
                                "rows": {m: {"f1": list(f), "avg": a}
                                         for m, (f, a) in table.rows.items()}}  # fmt: skip
        typer.echo(json.dumps(out, indent=2))
        return
    rows = {Path(model).name or model: {a: 100 * v for a, v in result["f1"].items()}}
    title, columns = None, names
    if table is not None:
        rows.update(paper_rows(table))
        title = f"Source: {table.source}. Target: {table.target}. (paper: Table {table.table})"
        columns = list(table.aus)
        if len(names) < len(columns):
            lacking = ", ".join(a for a in columns if a not in names)
            typer.echo(f"note: the model or data lacks {lacking}; its AVE is over "
                       f"{len(names)} AUs, the paper's over {len(columns)}", err=True)  # fmt: skip
    typer.echo(format_table(rows, columns, title=title))
    typer.echo(f"F1 in %; {result['n']} faces ({what}) of {path}")


@command("fid")
def fid_command(
    images_a: Annotated[Path, typer.Argument(help="folder of images (searched recursively)")],
    images_b: Annotated[Path, typer.Argument(help="folder of images to compare with")],
    extractor: Annotated[str, typer.Option(help="inception or random (offline)")] = "random",
    inception_weights: Annotated[
        Path | None, typer.Option(help="torchvision inception_v3 weights (.safetensors)")
    ] = None,
    limit: Annotated[int, typer.Option("-n", help="at most this many images per folder")] = 10000,
    size: Annotated[int, typer.Option(help="images are resized to SIZE x SIZE")] = 128,
    device: DeviceOption = "auto",
) -> None:
    """Fréchet distance of two image folders (the paper's Table IX) under a feature extractor."""
    from d2ca.devices import resolve_device
    from d2ca.evaluation.fid import fid_from_features, image_features, load_extractor, load_images

    net = load_extractor(extractor, inception_weights).to(resolve_device(device))
    features = [image_features(load_images(f, limit, size), net) for f in (images_a, images_b)]
    value = fid_from_features(*features)
    n_a, n_b, dim = len(features[0]), len(features[1]), features[0].shape[1]
    typer.echo(f"FID {value:.2f} over {n_a} and {n_b} images, {extractor} extractor")
    if extractor != "inception":
        typer.echo("note: random features; not comparable with published FID", err=True)
    if min(n_a, n_b) <= dim:
        typer.echo(
            f"note: fewer images than feature dimensions ({dim}): the covariances are "
            "singular and the value unstable; FID is usually taken over thousands of images",
            err=True,
        )


@command("tsne", on=plot_app)
def tsne_command(
    model: Annotated[str, typer.Argument(help="checkpoint folder or Hub repo id")],
    data: Annotated[list[str], typer.Option(help="NAME:DIR, once per domain")],
    au: Annotated[int, typer.Option(help="AU number whose label colours the points")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write")],
    split: Annotated[str, typer.Option(help="split to draw from when a manifest has one")] = "test",
    per_domain: Annotated[int, typer.Option(help="faces drawn per domain")] = 500,
    seed: Annotated[int, typer.Option(help="seed of the sampling and of t-SNE")] = 0,
    device: DeviceOption = "auto",
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
) -> None:
    """t-SNE of AU features coloured by one AU's label, marked by domain (Fig. 12)."""
    from d2ca.devices import resolve_device
    from d2ca.evaluation.plots import plot_tsne
    from d2ca.hub import load_pretrained

    device = resolve_device(device)
    domains = []
    for spec in data:
        name, path = parse_data_spec(spec)
        manifest, _ = select_rows(read_manifest(path), split, None)
        domains.append(((name or path.name).upper(), manifest))
    net = load_pretrained(model, device=device)
    path = plot_tsne(net, domains, au, out, per_domain=per_domain, seed=seed, device=device,
                     overwrite=overwrite)  # fmt: skip
    typer.echo(f"wrote {path}")


@command("run", on=plot_app)
def run_curves_command(
    run: Annotated[Path, typer.Argument(help="training run folder (holds metrics.jsonl)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write")],
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
) -> None:
    """A run's curves: loss terms, F1, per-term gradient norms on E_au, feature spreads."""
    from d2ca.evaluation.plots import plot_run

    typer.echo(f"wrote {plot_run(run, out, overwrite=overwrite)}")


@command("push")
def push_command(
    model: Annotated[Path, typer.Argument(help="checkpoint folder to publish")],
    repo_id: Annotated[str, typer.Argument(help="Hub model repo, OWNER/NAME")],
    private: Annotated[bool, typer.Option(help="create the repo as private")] = False,
) -> None:
    """Publish a checkpoint folder (config.json, model.safetensors, README.md) to the Hub."""
    from d2ca.config import CONFIG_NAME, WEIGHTS_NAME
    from d2ca.hub import CARD_NAME, push_to_hub

    if not model.is_dir():
        raise CheckpointError(f"{model}: no such checkpoint folder")
    missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME) if not (model / n).is_file()]
    if missing:
        raise CheckpointError(
            f"{model}: missing {', '.join(missing)}; a checkpoint to publish holds "
            f"{CONFIG_NAME}, {WEIGHTS_NAME} and a {CARD_NAME} model card"
        )
    owner, sep, name = repo_id.partition("/")
    if not (sep and owner and name) or "/" in name:
        raise InputError(f"repo id {repo_id!r} is not OWNER/NAME")
    typer.echo(push_to_hub(model, repo_id, private=private))
