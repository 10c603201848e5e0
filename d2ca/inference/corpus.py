"""Corpus runs: one AU table per input file, resumable, split into shards, over processes.

A corpus is listed once (:func:`list_inputs`: files, folders searched recursively, glob
patterns, text files naming inputs), each input mapped to ``OUT_DIR/<its relative path>.csv``
(or ``.json``). :func:`detect_corpus` then works through one shard of the list:

* **resume**: tables are written atomically, so one that exists is complete; its input is
  skipped. A killed run started again writes only what is missing (and deletes what the
  killed process was half-way through writing), giving the files an uninterrupted run gives.
* **shards**: shard ``I`` of ``N`` takes inputs ``I, I + N, I + 2N, ...`` of the sorted list,
  so the ``N`` tasks of a scheduler's array job cover the corpus exactly once.
* **workers**: ``W`` processes on this machine, each with its own model and thread count.
* **failures**: an input that cannot be read is reported (one line: why) and the run goes on.

Example:
    >>> from d2ca import D2CA
    >>> from d2ca.inference.corpus import detect_corpus
    >>> model = D2CA.from_pretrained()  # doctest: +SKIP
    >>> for item in detect_corpus(model, ["interviews/"], "aus/", workers=2):  # doctest: +SKIP
    ...     print(item.status, item.input, item.reason)
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from d2ca.data.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, count_frames, expand_inputs
from d2ca.errors import D2CAError, InputError
from d2ca.inference.pipeline import D2CA
from d2ca.io import remove_partial

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


@dataclass(frozen=True)
class CorpusInput:
    """One file of a corpus and the relative path its table mirrors under the output folder."""

    path: Path
    relative: Path


@dataclass(frozen=True)
class CorpusItem:
    """What happened to one input: ``written``, ``skipped`` (its table existed) or ``failed``."""

    input: Path
    output: Path
    status: Literal["written", "skipped", "failed"]
    frames: int = 0  # frames analysed (written tables only)
    reason: str = ""  # one line, for failed inputs


def list_inputs(
    paths: Sequence[str | Path] = (), *, input_list: str | Path | None = None
) -> list[CorpusInput]:
    """The files of a corpus, sorted by relative path, each with the path its table mirrors.

    Args:
        paths: files, folders (their images and videos, searched recursively; relative to
            the folder) and glob patterns (``"data/**/*.mp4"``; relative to the pattern's
            fixed leading folders). A file is relative to its own folder.
        input_list: a text file naming one input per line (blank lines and ``#`` comments
            skipped; relative entries are relative to the list's folder); its files are
            relative to the deepest folder they all share.

    A named file that does not exist is kept: it fails when its turn comes.

    Raises:
        InputError: nothing to read, an unreadable list, or two inputs mirroring to one path.

    Example:
        >>> [str(i.relative) for i in list_inputs(["examples/face.png"])]
        ['face.png']
    """
    found: list[CorpusInput] = []
    for path in paths:
        found.extend(_expand(str(path)))
    if input_list is not None:
        found.extend(_from_list(Path(input_list)))
    if not found:
        raise InputError("no image or video to read in the inputs given")
    by_relative: dict[Path, CorpusInput] = {}
    for item in found:
        other = by_relative.setdefault(item.relative, item)
        if other.path.resolve() != item.path.resolve():
            raise InputError(
                f"{other.path} and {item.path} would both write the table for {item.relative}; "
                "pass their common folder instead"
            )
    return sorted(by_relative.values(), key=lambda item: item.relative.as_posix())


def _expand(spec: str) -> list[CorpusInput]:
    path = Path(spec)
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file() and _is_media(p)]
        return [CorpusInput(p, p.relative_to(path)) for p in files]
    if not path.exists() and glob.has_magic(spec):
        parts = Path(spec).parts
        fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
        root = Path(*parts[:fixed]) if fixed else Path(".")
        files = [Path(p) for p in glob.glob(spec, recursive=True)]
        return [CorpusInput(p, p.relative_to(root)) for p in files if p.is_file() and _is_media(p)]
    return [CorpusInput(path, Path(path.name))]


def _from_list(list_file: Path) -> list[CorpusInput]:
    try:
        lines = list_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{list_file}: cannot read the input list ({e})") from None
    entries = [line.strip() for line in lines]
    paths = [list_file.parent / e for e in entries if e and not e.startswith("#")]
    if not paths:
        return []
    root = Path(os.path.commonpath([p.absolute().parent for p in paths]))
    return [CorpusInput(p, p.absolute().relative_to(root)) for p in paths]


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS


def shard(inputs: Sequence[CorpusInput], index: int, count: int) -> list[CorpusInput]:
    """Shard ``index`` (1 to ``count``) of ``inputs``: items ``index, index + count, ...``.

    Example:
        >>> shard(list("abcdefg"), 2, 3)
        ['b', 'e']
    """
    if count < 1 or not 1 <= index <= count:
        raise InputError(f"shard must be I/N with 1 <= I <= N, got {index}/{count}")
    return list(inputs[index - 1 :: count])


def output_path(out_dir: str | Path, item: CorpusInput, fmt: str) -> Path:
    """``OUT_DIR/<relative path>.<fmt>``, e.g. ``aus/s01/clip.mp4.csv``."""
    return Path(out_dir) / f"{item.relative.as_posix()}.{fmt}"


def detect_corpus(
    model: D2CA,
    inputs: Sequence[CorpusInput] | Sequence[str | Path],
    out_dir: str | Path,
    *,
    fmt: str = "csv",
    shard_of: tuple[int, int] = (1, 1),
    workers: int = 1,
    threads: int | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    **options: Any,
) -> Iterator[CorpusItem]:
    """Detect AUs in every input of one shard and write one table per input.

    Args:
        model: the pipeline; with ``workers > 1`` each worker gets a copy on the same device.
        inputs: a list from :func:`list_inputs`, or paths, folders and patterns for it.
        out_dir: where the tables go, mirroring the inputs' relative paths.
        fmt: ``csv`` or ``json``.
        shard_of: ``(I, N)``, process only shard ``I`` of ``N`` (see :func:`shard`).
        workers: processes; each loads the model once and takes inputs one at a time.
        threads: torch threads per worker; default: this machine's cores divided by
            ``workers`` (with ``workers=1`` this process's setting is left alone).
        overwrite: recompute inputs whose table exists instead of skipping them.
        progress: bars over files and frames on stderr; ``None``: when stderr is a terminal.
        **options: passed to :meth:`D2CA.detect_aus` (``every``, ``tracking``, ...).

    Yields:
        One :class:`CorpusItem` per input of the shard: first the skipped ones, then the
        others as they finish.

    Raises:
        InputError: invalid options (before any work). Unreadable inputs do not raise;
            they are yielded with ``status="failed"``.
    """
    if fmt not in ("csv", "json"):
        raise InputError(f"format must be csv or json, got {fmt!r}")
    if workers < 1 or (threads is not None and threads < 1):
        raise InputError(f"workers and threads must be positive, got {workers} and {threads}")
    listed = (
        list(inputs) if all(isinstance(i, CorpusInput) for i in inputs) else list_inputs(inputs)  # type: ignore[arg-type]
    )
    todo: list[tuple[CorpusInput, Path]] = []
    for item in shard(listed, *shard_of):  # type: ignore[arg-type]
        out = output_path(out_dir, item, fmt)
        remove_partial(out)  # a killed run's half-written table; this shard owns `out`
        if out.exists() and not overwrite:
            yield CorpusItem(item.path, out, "skipped")
        else:
            todo.append((item, out))
    if not todo:
        return
    from tqdm.auto import tqdm

    disable = None if progress is None else not progress
    frames = sum(_frame_count(item.path, options.get("every", 1)) for item, _ in todo)
    with (
        tqdm(total=len(todo), unit="file", disable=disable, position=0) as files_bar,
        tqdm(total=frames, unit="frame", disable=disable, position=1) as frames_bar,
    ):
        jobs = (todo, fmt, overwrite, options)
        runs = (
            _run_here(model, *jobs, threads, frames_bar.update)
            if workers == 1
            else _run_in_workers(model, *jobs, workers, threads, frames_bar.update)
        )
        for done in runs:
            files_bar.update(1)
            yield done


def _frame_count(path: Path, every: int) -> int:
    try:
        return count_frames(expand_inputs(str(path)), every)
    except D2CAError:
        return 0  # unreadable: it fails, with its reason, when its turn comes


def _detect_one(
    model: D2CA,
    item: CorpusInput,
    out: Path,
    fmt: str,
    overwrite: bool,
    options: dict[str, Any],
    on_frames: Callable[[int], None],
) -> CorpusItem:
    try:
        result = model.detect_aus(str(item.path), progress=on_frames, **options)
        if fmt == "csv":
            result.to_csv(out, overwrite=overwrite)
        else:
            result.to_json(out, overwrite=overwrite)
    except (D2CAError, OSError) as e:
        reason = " ".join(str(e).split()).removeprefix(f"{item.path}: ") or type(e).__name__
        return CorpusItem(item.path, out, "failed", reason=reason)
    return CorpusItem(item.path, out, "written", frames=len({row.frame for row in result.rows}))


def _run_here(
    model: D2CA,
    todo: list[tuple[CorpusInput, Path]],
    fmt: str,
    overwrite: bool,
    options: dict[str, Any],
    threads: int | None,
    on_frames: Callable[[int], None],
) -> Iterator[CorpusItem]:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    for item, out in todo:
        yield _detect_one(model, item, out, fmt, overwrite, options, on_frames)


def _run_in_workers(
    model: D2CA,
    todo: list[tuple[CorpusInput, Path]],
    fmt: str,
    overwrite: bool,
    options: dict[str, Any],
    workers: int,
    threads: int | None,
    on_frames: Callable[[int], None],
) -> Iterator[CorpusItem]:
    import multiprocessing
    import queue
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: forking a process whose torch already started threads can deadlock
    context = multiprocessing.get_context("spawn")
    frames = context.Queue()
    recipe = _recipe(model)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(recipe, threads, frames)
    ) as pool:
        pending = {pool.submit(_work, item, out, fmt, overwrite, options) for item, out in todo}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while True:
                try:
                    on_frames(frames.get_nowait())
                except queue.Empty:
                    break
            for future in done:
                yield future.result()


def _recipe(model: D2CA) -> dict[str, Any]:
    """What a worker needs to build the same pipeline: config, weights (on CPU), devices."""
    detector = model._detector.settings if model._detector is not None else None
    return {
        "config": model.config.to_dict(),
        "state": {k: v.detach().cpu() for k, v in model.model.state_dict().items()},
        "device": str(model.device),
        "detector": detector,
    }


_worker: dict[str, Any] = {}  # this worker process's pipeline and progress queue


def _start_worker(recipe: dict[str, Any], threads: int, frames: Any) -> None:
    import torch

    from d2ca.config import D2CAConfig
    from d2ca.face import FaceDetector
    from d2ca.models import D2CAModel

    torch.set_num_threads(threads)
    network = D2CAModel(D2CAConfig.from_dict(recipe["config"]))
    network.load_state_dict(recipe["state"])
    detector = FaceDetector(**recipe["detector"]) if recipe["detector"] else None
    _worker["model"] = D2CA(network.to(recipe["device"]), detector=detector)
    _worker["frames"] = frames


def _work(
    item: CorpusInput, out: Path, fmt: str, overwrite: bool, options: dict[str, Any]
) -> CorpusItem:
    frames = _worker["frames"]
    return _detect_one(_worker["model"], item, out, fmt, overwrite, options, frames.put)
