"""CLI commands over the inference facade: ``detect``, ``swap``, ``interpolate``, ``info``.

Each command only parses options, checks output paths, calls :class:`d2ca.D2CA` and writes
files through :func:`d2ca.io.atomic_path`; errors become one-line messages (``command``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from d2ca.cli.app import DeviceOption, command
from d2ca.errors import InputError
from d2ca.face.track import KEYFRAME_INTERVAL
from d2ca.io import OutputExistsError, atomic_path

if TYPE_CHECKING:
    from d2ca.inference.pipeline import D2CA
    from d2ca.inference.results import AUResult

ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Checkpoint folder or Hub repo id; default: shipped model."),
]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")]
DomainOption = Annotated[str, typer.Option(help="Domain encoder for TARGET: target or source.")]


def _load(model: str | None, device: str = "auto") -> D2CA:
    from d2ca.inference.pipeline import D2CA

    return D2CA.from_pretrained(model, device=device)


def _check_outputs(outputs: list[Path | None], inputs: list[Path], overwrite: bool) -> None:
    """Fail before any work when an output exists (without --overwrite) or is an input."""
    given = {p.resolve() for p in inputs if p.exists()}
    for out in outputs:
        if out is None:
            continue
        if out.resolve() in given:
            raise InputError(f"{out} is one of the inputs; choose another output path")
        if out.exists() and not overwrite:
            raise OutputExistsError(f"{out} exists (pass --overwrite to replace it)")


def _save_image(image: np.ndarray, path: Path, overwrite: bool) -> None:
    from PIL import Image

    with atomic_path(path, overwrite=overwrite) as tmp:
        Image.fromarray(image).save(
            tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG")
        )


@command("detect")
def detect(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH...",
            help="Images, videos or folders (with --out-dir also patterns: 'd/**/*.mp4').",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Table to write; default: standard output."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            help="Corpus run: one table per input, at the input's relative path + .csv/.json; "
            "inputs whose table exists are skipped (resume); folders are searched recursively.",
        ),
    ] = None,
    input_list: Annotated[
        Path | None,
        typer.Option(help="With --out-dir: text file naming one input per line."),
    ] = None,
    shard: Annotated[
        str,
        typer.Option(help="With --out-dir: process shard I/N of the sorted inputs (array jobs)."),
    ] = "1/1",
    workers: Annotated[
        int, typer.Option(min=1, help="With --out-dir: worker processes on this machine.")
    ] = 1,
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="torch threads per worker; default: cores / workers."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    every: Annotated[int, typer.Option(min=1, help="Analyse every N-th video frame.")] = 1,
    per_frame: Annotated[
        bool,
        typer.Option(
            "--per-frame",
            help="Full MTCNN on every video frame. Default for video: tracking (full MTCNN "
            "every --keyframe-interval frames and when a face is lost; MTCNN's O-Net follows "
            "faces in between).",
        ),
    ] = False,
    keyframe_interval: Annotated[
        int, typer.Option(min=1, help="Tracking: analysed frames between full detections.")
    ] = KEYFRAME_INTERVAL,
    batch_size: Annotated[int, typer.Option(min=1, help="Frames per batch.")] = 32,
    device: DeviceOption = "auto",
    threshold: Annotated[
        float | None,
        typer.Option(help="One decision threshold for all AUs (default: the model's)."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="PNG of AU probabilities over time (one video; needs matplotlib)."),
    ] = None,
    annotate: Annotated[
        Path | None,
        typer.Option(help="Copy of the video (mp4v) with face boxes and active AUs."),
    ] = None,
    aligned: Annotated[
        bool, typer.Option("--aligned", help="Inputs are aligned face crops.")
    ] = False,
    overwrite: OverwriteOption = False,
    model: ModelOption = None,
) -> None:
    """Detect faces and their action units; write one row per face and frame (CSV or JSON).

    In videos, faces are tracked: full MTCNN detection runs on the first frame, every
    --keyframe-interval analysed frames and whenever a face is lost; in between, MTCNN's
    last network (O-Net) follows each face from its previous box. --per-frame runs full
    detection on every frame instead.
    """
    paths = paths or []
    if fmt not in ("csv", "json"):
        raise InputError(f"--format must be csv or json, got {fmt!r}")
    if threshold is not None and not 0 < threshold < 1:
        raise InputError(f"--threshold must lie strictly between 0 and 1, got {threshold}")
    options = {
        "aligned": aligned,
        "every": every,
        "batch_size": batch_size,
        "thresholds": threshold,
        "tracking": not per_frame,
        "keyframe_interval": keyframe_interval,
    }
    if out_dir is not None:
        _detect_corpus(
            paths,
            out_dir,
            input_list,
            shard,
            workers,
            threads,
            fmt,
            overwrite,
            _load(model, device),
            options,
            [output, plot, annotate],
        )
        return
    corpus_only = {
        "--input-list": input_list is not None,
        "--shard": shard != "1/1",
        "--workers": workers != 1,
    }
    for name, given in corpus_only.items():
        if given:
            raise InputError(f"{name} needs --out-dir")
    if not paths:
        raise InputError("no input given: name images, videos or folders")
    _check_outputs([output, plot, annotate], paths, overwrite)
    video = None
    if plot is not None or annotate is not None:
        video = _single_video(paths, "--plot" if plot is not None else "--annotate")
    if plot is not None:
        _require_matplotlib()
    pipeline = _load(model, device)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    result = pipeline.detect_aus([str(p) for p in paths], **options)
    text = result.to_csv() if fmt == "csv" else result.to_json()
    if output is None:
        typer.echo(text, nl=False)
    else:
        with atomic_path(output, overwrite=overwrite) as tmp:
            tmp.write_text(text)
    if plot is not None:
        _plot(result, plot, overwrite)
    if annotate is not None and video is not None:
        _annotate(video, result, annotate, overwrite)


def _detect_corpus(
    paths: list[Path],
    out_dir: Path,
    input_list: Path | None,
    shard: str,
    workers: int,
    threads: int | None,
    fmt: str,
    overwrite: bool,
    pipeline: D2CA,
    options: dict,
    single_outputs: list[Path | None],
) -> None:
    """``detect --out-dir``: one table per input; a summary of failed inputs; exit 1 if any."""
    from d2ca.inference.corpus import detect_corpus, list_inputs

    if any(out is not None for out in single_outputs):
        raise InputError("--out-dir writes one table per input: drop -o, --plot and --annotate")
    try:
        index, count = (int(v) for v in shard.split("/"))
    except ValueError:
        raise InputError(f"--shard must look like I/N, e.g. 3/10, got {shard!r}") from None
    inputs = list_inputs(paths, input_list=input_list)
    items = list(
        detect_corpus(
            pipeline,
            inputs,
            out_dir,
            fmt=fmt,
            shard_of=(index, count),
            workers=workers,
            threads=threads,
            overwrite=overwrite,
            **options,
        )
    )
    counts = Counter(item.status for item in items)
    failed = [item for item in items if item.status == "failed"]
    lines = [
        f"{len(items)} inputs (shard {index}/{count} of {len(inputs)}): {counts['written']} "
        f"written, {counts['skipped']} skipped (table exists), {counts['failed']} failed"
    ]
    if failed:
        width = max(len(str(item.input)) for item in failed)
        lines += [f"{'path'.ljust(width)}  reason"]
        lines += [f"{str(item.input).ljust(width)}  {item.reason}" for item in failed]
    typer.echo("\n".join(lines), err=True)
    if failed:
        raise typer.Exit(1)


def _single_video(paths: list[Path], option: str) -> Path:
    from d2ca.data.media import VIDEO_EXTENSIONS

    if len(paths) != 1 or paths[0].suffix.lower() not in VIDEO_EXTENSIONS:
        raise InputError(f"{option} needs exactly one video input")
    return paths[0]


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'd2ca[plot]'") from None


def _main_face(result: AUResult) -> int:
    counts = Counter(row.face_id for row in result.rows if row.success)
    return counts.most_common(1)[0][0] if counts else -1


def _plot(result: AUResult, path: Path, overwrite: bool) -> None:
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    face_id = _main_face(result)
    # one point per analysed frame; NaN (a gap in the line) where that face is missing
    probs: dict[int, np.ndarray] = {}
    times: dict[int, float] = {}
    for row in result.rows:
        times[row.frame] = row.timestamp
        if row.face_id == face_id and row.probabilities is not None:
            probs[row.frame] = row.probabilities
    missing = np.full(len(result.au_names), np.nan)
    series = np.array([probs.get(frame, missing) for frame in times]).reshape(len(times), -1)
    figure = Figure(figsize=(10, 4), layout="constrained")
    axes = figure.add_subplot()
    for k, name in enumerate(result.au_names):
        axes.plot(list(times.values()), series[:, k], label=name, linewidth=1)
    axes.set(xlabel="time (s)", ylabel="probability", ylim=(0, 1))
    axes.set_title(f"AU probabilities of face {face_id}" if probs else "no face found")
    axes.legend(ncol=2, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    with atomic_path(path, overwrite=overwrite) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def _annotate(video: Path, result: AUResult, path: Path, overwrite: bool) -> None:
    import cv2

    from d2ca.data.media import iter_video

    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    by_frame: dict[int, list] = {}
    for row in result.rows:
        by_frame.setdefault(row.frame, []).append(row)
    with atomic_path(path, overwrite=overwrite) as tmp:
        writer = None
        current: list = []
        try:
            for frame in iter_video(video):
                current = by_frame.get(frame.index, current)  # hold rows over skipped frames
                bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
                for row in current:
                    if not row.success or row.face is None:
                        continue
                    x1, y1, x2, y2 = (int(round(float(v))) for v in row.face.box)
                    active = [n for n, on in zip(result.au_names, row.presence, strict=True) if on]
                    cv2.rectangle(bgr, (x1, y1), (x2, y2), (0, 255, 0), 2)
                    labels = [f"face {row.face_id}"] + [
                        " ".join(active[i : i + 4]) for i in range(0, len(active), 4)
                    ]
                    for k, label in enumerate(labels):  # under the box, four AUs a line
                        cv2.putText(
                            bgr,
                            label,
                            (x1, y2 + 14 * (k + 1)),
                            cv2.FONT_HERSHEY_SIMPLEX,
                            0.45,
                            (0, 255, 0),
                            1,
                            cv2.LINE_AA,
                        )
                if writer is None:
                    size = (bgr.shape[1], bgr.shape[0])
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                    if not writer.isOpened():
                        raise InputError(f"cannot write an mp4v video to {path}")
                writer.write(bgr)
        finally:
            if writer is not None:
                writer.release()


@command("swap")
def swap(
    au_source: Annotated[Path, typer.Argument(help="Image whose face gives the AUs.")],
    target: Annotated[Path, typer.Argument(help="Image whose face gets them.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Default: TARGET_aus_from_SOURCE.png here."),
    ] = None,
    crop_only: Annotated[
        bool, typer.Option("--crop-only", help="Write the aligned crop, not the pasted image.")
    ] = False,
    domain: DomainOption = "target",
    device: DeviceOption = "auto",
    overwrite: OverwriteOption = False,
    model: ModelOption = None,
) -> None:
    """Give TARGET's face the action units of AU_SOURCE's face; write the result image."""
    output = output or Path(f"{target.stem}_aus_from_{au_source.stem}.png")
    _check_outputs([output], [au_source, target], overwrite)
    result = _load(model, device).swap_aus(
        str(au_source),
        str(target),
        domain=domain,
        paste=not crop_only,  # type: ignore[arg-type]
    )
    _save_image(result.crop if crop_only else result.image, output, overwrite)
    typer.echo(f"wrote {output}")


@command("interpolate")
def interpolate(
    face_a: Annotated[Path, typer.Argument(help="Image whose AUs start the sequence.")],
    face_b: Annotated[Path, typer.Argument(help="Image whose AUs end it.")],
    target: Annotated[Path, typer.Argument(help="Image whose face is rendered.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG strip to write.")],
    steps: Annotated[int, typer.Option(min=2, help="Faces in the strip.")] = 8,
    domain: DomainOption = "target",
    device: DeviceOption = "auto",
    overwrite: OverwriteOption = False,
    model: ModelOption = None,
) -> None:
    """Render TARGET's face with AUs moving linearly from FACE_A's to FACE_B's (a strip)."""
    _check_outputs([output], [face_a, face_b, target], overwrite)
    faces = _load(model, device).interpolate(
        str(face_a),
        str(face_b),
        str(target),
        steps=steps,
        domain=domain,  # type: ignore[arg-type]
    )
    _save_image(np.concatenate(list(faces), axis=1), output, overwrite)
    typer.echo(f"wrote {output}")


@command("info")
def info(
    model: Annotated[
        str | None,
        typer.Argument(help="Checkpoint folder or Hub repo id; default: shipped model."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a checkpoint's configuration, AUs, provenance, parameters and encoder cost."""
    from d2ca.models import encoder_complexity

    pipeline = _load(model, "cpu")
    config = pipeline.config
    params = {
        name: sum(p.numel() for p in module.parameters())
        for name, module in pipeline.model.named_children()
    }
    summary = {
        "image_size": config.image_size,
        "aus": list(config.au_names),
        "thresholds": list(config.thresholds),
        "provenance": config.provenance,
        "parameters": params,
        "encoder": encoder_complexity(config),
        "config": config.to_dict(),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    encoder = summary["encoder"]
    lines = [
        f"image size   {config.image_size} x {config.image_size}",
        f"AUs          {' '.join(config.au_names)}",
        f"thresholds   {' '.join(f'{t:.2f}' for t in config.thresholds)}",
        f"encoder      {encoder['params'] / 1e6:.3f} M parameters, "
        f"{encoder['macs'] / 1e6:.2f} M multiply-adds ({encoder['flops'] / 1e6:.2f} M FLOPs) "
        "per image, each of E_au, E_dm^s, E_dm^t",
        "parameters   " + ", ".join(f"{k} {v / 1e6:.3f} M" for k, v in params.items()),
        f"total        {sum(params.values()) / 1e6:.3f} M parameters",
        "provenance" + ("" if config.provenance else "   none recorded"),
        *_readable(config.provenance, indent=2),
    ]
    typer.echo("\n".join(lines))


def _readable(mapping: dict, indent: int) -> list[str]:
    """Nested provenance as indented ``key  value`` lines; long text wrapped, floats rounded."""
    import textwrap

    width = max((len(str(k)) for k in mapping), default=0) + 2
    lines = []
    for key, value in mapping.items():
        head = " " * indent + str(key)
        numbers = isinstance(value, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        )
        if isinstance(value, dict) and value and not numbers:
            lines += [head, *_readable(value, indent + 2)]
            continue
        if numbers:  # e.g. F1 per AU, on one (wrapped) line
            text = ", ".join(f"{k} {_scalar(v)}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = " ".join(_scalar(v) for v in value)
        else:
            text = _scalar(value)
        lines += textwrap.wrap(
            text,
            width=max(100, indent + width + 40),
            initial_indent=head.ljust(indent + width),
            subsequent_indent=" " * (indent + width),
        ) or [head]
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, dict) else str(value)
