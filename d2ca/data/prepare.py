"""Detect and align every labelled frame of a dataset once: cached crops plus a manifest.

Output folder::

    DIR/
      prepare.json      dataset, root, crop size (a rerun must match them)
      progress.csv      one line per finished frame (``crop,status``): the resume log
      crops/SUBJECT/VIDEO/000123.jpg
      manifest.csv      path, subject, video, frame, fold and/or split, AU01... (1 / 0 / -1)
      manifest-fold0.csv  (fold datasets) the same rows, split = test for fold 0, train
      manifest-fold1.csv  for the other folds: the within-domain 3-fold protocol
      manifest-fold2.csv
      folds.json        subject -> fold (BP4D, BP4D+, DISFA) and its source; absent for
                        official splits
      no_face.csv       frames where no face was found (they are not in the manifest)
      no_image.csv      labelled frames without an image on disk (not in the manifest)

Every crop is written atomically, so an interrupted run leaves only whole crops; a rerun
skips frames that have a crop or a ``no_face`` line in ``progress.csv``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from d2ca.aus import au_name
from d2ca.data.manifest import write_manifest
from d2ca.data.readers import FrameRecord, dataset_key
from d2ca.data.readers.base import DatasetError
from d2ca.data.survey import NUM_FOLDS, Survey, survey
from d2ca.io import atomic_path

PROGRESS = "progress.csv"
DETECT_BATCH = 16
# The paper splits DISFA's three subject folds into training / validation / testing (Sec. IV);
# BP4D and BP4D+ manifests keep every row (no split column) for cross-domain use.
FOLD_SPLITS = {"disfa": ("train", "val", "test")}


@dataclass(frozen=True)
class PrepareSummary:
    """What :func:`prepare` did.

    Attributes:
        out: the output folder.
        frames: labelled frames the dataset has.
        computed: frames detected and aligned by this run.
        reused: frames finished by an earlier run (crop or no-face line found).
        no_face: frames without a face (listed in ``no_face.csv``).
        manifest: path of ``manifest.csv``.
        no_image: labelled frames without an image (listed in ``no_image.csv``).
    """

    out: Path
    frames: int
    computed: int
    reused: int
    no_face: int
    manifest: Path
    no_image: int = 0


def crop_path(record: FrameRecord) -> str:
    """Relative path of a record's crop: ``crops/SUBJECT/VIDEO/000123.jpg``.

    >>> from pathlib import Path
    >>> r = FrameRecord(Path("a.avi"), 0, "SN001", "Left Camera", 1, (0,), (1,))
    >>> crop_path(r)
    'crops/SN001/Left_Camera/000001.jpg'
    """

    def safe(name: str) -> str:
        return re.sub(r"[^A-Za-z0-9._+-]", "_", name)

    return f"crops/{safe(record.subject)}/{safe(record.video)}/{record.frame:06d}.jpg"


def read_frames(records: Sequence[FrameRecord]) -> Iterator[tuple[FrameRecord, np.ndarray]]:
    """Decode the RGB frames of records that share one source, in the order given.

    Video records must come sorted by index. A video is decoded from its first frame,
    skipping unwanted frames with ``grab``: exact, where seeking by frame number lands on
    the wrong frame with some codecs.

    Raises:
        DatasetError: naming the file (and frame) that cannot be read.
    """
    import cv2

    if records[0].index is None:
        archive = None
        try:
            for r in records:
                if r.member is not None:
                    try:
                        archive = archive or zipfile.ZipFile(r.source)
                        data = np.frombuffer(archive.read(r.member), np.uint8)
                    except (OSError, KeyError, zipfile.BadZipFile):
                        data = np.zeros(0, np.uint8)  # reported as unreadable below
                    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
                else:
                    image = cv2.imread(str(r.source), cv2.IMREAD_COLOR)
                if image is None:
                    raise DatasetError(f"{r.location}: cannot read the image (missing or corrupt)")
                yield r, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        finally:
            if archive is not None:
                archive.close()
        return
    video = records[0].source
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise DatasetError(f"{video}: cannot open the video (missing or corrupt)")
    try:
        position = 0
        for r in records:
            ok = True
            while ok and position < r.index:
                ok = cap.grab()
                position += 1
            ok, frame = cap.read() if ok else (False, None)
            if not ok:
                raise DatasetError(
                    f"{video}: frame {r.index} (label frame {r.frame}) cannot be read; "
                    "the video is shorter or corrupt"
                )
            position += 1
            yield r, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def choose_face(faces: Sequence, rule: str):
    """The face a record asks for: ``largest`` box, or the ``left`` / ``right`` one."""
    if not faces:
        return None
    if rule == "left":
        return min(faces, key=lambda f: f.box[0] + f.box[2])
    if rule == "right":
        return max(faces, key=lambda f: f.box[0] + f.box[2])
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


class _Worker:
    """Detector and aligner of one process; built once per process."""

    def __init__(
        self, out: Path, size: int, device: str, min_face_size: int, max_side: int | None
    ) -> None:
        from d2ca.face import FaceDetector

        self.out, self.size = out, size
        self.detector = FaceDetector(device=device, min_face_size=min_face_size, max_side=max_side)

    def run(self, chunk: Sequence[FrameRecord]) -> Iterator[tuple[str, str]]:
        """Yield ``(crop path, "ok" | "no_face")`` per record of a chunk, writing crops.

        Frames are detected in batches of :data:`DETECT_BATCH` (faster on a GPU); each crop
        is written just before its result is yielded.
        """
        import cv2

        from d2ca.face import align_face

        frames, error = read_frames(chunk), None
        while not error:
            batch: list[tuple[FrameRecord, np.ndarray]] = []
            try:  # frames read before an unreadable one are still processed
                for item in islice(frames, DETECT_BATCH):
                    batch.append(item)
            except DatasetError as e:
                error = e
            if not batch:
                break
            detections = self.detector.detect([image for _, image in batch])
            for (record, image), faces in zip(batch, detections, strict=True):
                rel = crop_path(record)
                face = choose_face(faces, record.face)
                if face is None:
                    yield rel, "no_face"
                    continue
                crop, _ = align_face(image, face.landmarks, size=self.size)
                ok, data = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, 95])  # fmt: skip
                if not ok:
                    raise OSError(f"cannot encode the crop of {record.source} frame {record.frame}")
                with atomic_path(self.out / rel) as tmp:
                    tmp.write_bytes(data.tobytes())
                yield rel, "ok"
        if error:
            raise error


_PROCESS_WORKER: _Worker | None = None


def _init_process(threads: int, *worker_args: object) -> None:
    import torch

    global _PROCESS_WORKER
    torch.set_num_threads(threads)
    _PROCESS_WORKER = _Worker(*worker_args)  # type: ignore[arg-type]


def _run_in_process(chunk: Sequence[FrameRecord]) -> list[tuple[str, str]]:
    assert _PROCESS_WORKER is not None
    return list(_PROCESS_WORKER.run(chunk))


def chunks(records: Sequence[FrameRecord], size: int) -> list[list[FrameRecord]]:
    """Units of work: records of one image folder, at most ``size`` each, or all records
    of one video sorted by index (a video is decoded once, from its start)."""
    groups: dict[tuple[str, bool], list[FrameRecord]] = {}
    for r in records:
        key = str(r.source if r.index is not None else r.location.parent), r.index is not None
        groups.setdefault(key, []).append(r)
    out = []
    for (_, is_video), group in groups.items():
        if is_video:
            out.append(sorted(group, key=lambda r: r.index))
        else:
            out += [group[i : i + size] for i in range(0, len(group), size)]
    return out


def read_progress(path: Path) -> dict[str, str]:
    """``crop path -> status`` of a progress log; a torn last line (a kill) is ignored."""
    if not path.is_file():
        return {}
    done = {}
    for line in path.read_text().splitlines():
        crop, _, status = line.partition(",")
        if status in ("ok", "no_face"):
            done[crop] = status
    return done


def check_output(out: Path, meta: dict[str, object]) -> None:
    """Write ``prepare.json``, or check that an existing one is for this dataset and size."""
    path = out / "prepare.json"
    if path.is_file():
        old = json.loads(path.read_text())
        for key in ("dataset", "size"):
            if old.get(key) != meta[key]:
                raise DatasetError(
                    f"{out} holds {old.get('dataset')} crops of size {old.get('size')}; "
                    f"use another --out for {meta['dataset']} at size {meta['size']}"
                )
        return
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out}: folder is not empty and was not made by d2ca prepare")
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")


def prepare(
    dataset: str,
    root: str | Path,
    out: str | Path,
    *,
    size: int = 128,
    workers: int = 1,
    device: str = "cpu",
    min_face_size: int = 40,
    max_side: int | None = 640,
    folds: str | Path | None = None,
    chunk_size: int = 64,
    progress: bool = True,
    on_frame: Callable[[int], None] | None = None,
    on_survey: Callable[[Survey], None] | None = None,
    records: Sequence[FrameRecord] | None = None,
    **reader_options: object,
) -> PrepareSummary:
    """Detect, align and cache every labelled frame of a dataset; write its manifest.

    Args:
        dataset: ``bp4d``, ``bp4d+``, ``disfa``, ``gft`` or ``affwild2``.
        root: the dataset folder as distributed (see ``docs/datasets.md``).
        out: output folder (created; a rerun on the same folder resumes).
        size: side of the aligned crops.
        workers: processes detecting in parallel (1: this process). Worker processes are
            spawned: a script calling this needs an ``if __name__ == "__main__":`` guard.
        device: torch device of the face detector.
        min_face_size: smallest face searched for, in pixels (of the detection image).
        max_side: frames are downscaled to this longer side for detection only (the crop
            is cut from the full frame); ``None`` detects at full size, several times slower.
        folds: a ``folds.json`` to use instead of the default folds (the published lists
            for BP4D and DISFA, see :mod:`d2ca.data.survey`).
        chunk_size: frames of an image folder per unit of work (a video is one unit).
        progress: show a tqdm progress bar on stderr.
        on_frame: called with the number of frames finished so far after each frame
            (raising in it interrupts the run, as a kill would).
        on_survey: called with the :class:`~d2ca.data.survey.Survey` of the tree once it is
            read, before any detection (the CLI prints it).
        records: frames read already (``d2ca prepare folder``) instead of ``dataset``'s
            reader; ``dataset`` then only names them in ``prepare.json`` and no survey or
            folds are made (the records carry their splits).
        **reader_options: passed to the reader (``partitions=`` for GFT, ``camera=`` for
            DISFA, ``frame_offset=`` for BP4D+).

    Returns:
        A :class:`PrepareSummary`.

    Example:
        >>> s = prepare("disfa", "/data/DISFA", "prepared/disfa", workers=4)  # doctest: +SKIP
        >>> s.manifest  # doctest: +SKIP
        PosixPath('prepared/disfa/manifest.csv')
    """
    from tqdm.auto import tqdm

    key = dataset_key(dataset) if records is None else dataset
    out = Path(out)
    # 1. the tree and the protocol: official splits, or subject-independent folds
    if records is None:
        found = survey(key, root, folds=folds, **reader_options)
        if on_survey is not None:
            on_survey(found)
        records, fold_of = found.scan.records, found.fold_of
        no_image, folds_from = found.scan.no_image, found.folds_from
    else:  # d2ca prepare folder: records read by its own reader, with their splits
        fold_of, no_image, folds_from = {}, [], None
    check_output(out, {"dataset": key, "root": str(Path(root).resolve()), "size": size})

    # 2. what an earlier run finished: crops on disk and the progress log
    progress_path = out / PROGRESS
    done = read_progress(progress_path)
    todo = [
        r
        for r in records
        if done.get(crop_path(r)) != "no_face" and not (out / crop_path(r)).is_file()
    ]
    reused = len(records) - len(todo)

    # 3. detect and align what is left, logging each finished frame
    finished = reused
    bar = tqdm(total=len(records), initial=reused, unit="frame", disable=not progress)
    with progress_path.open("a") as log:

        def record(results: Sequence[tuple[str, str]]) -> None:
            nonlocal finished
            for rel, status in results:
                log.write(f"{rel},{status}\n")
                log.flush()
                done[rel] = status
                finished += 1
                bar.update(1)
                if on_frame is not None:
                    on_frame(finished)

        try:
            work = chunks(todo, chunk_size)
            if workers <= 1:
                worker = _Worker(out, size, device, min_face_size, max_side)
                for c in work:
                    for result in worker.run(c):
                        record([result])
            elif work:
                worker_args = (out, size, device, min_face_size, max_side)
                _run_pool(work, worker_args, workers, record)
        finally:
            bar.close()

    # 4. the manifest, the no-face list and the folds
    rows, missing_face = [], []
    for r in records:
        rel = crop_path(r)
        if done.get(rel) == "no_face":
            index = "" if r.index is None else r.index
            missing_face.append(
                {
                    "source": str(r.location),
                    "index": index,
                    "subject": r.subject,
                    "video": r.video,
                    "frame": r.frame,
                }  # fmt: skip
            )
            continue
        row: dict[str, object] = {"path": rel, "subject": r.subject, "video": r.video}
        row["frame"] = r.frame
        if fold_of:
            row["fold"] = fold_of[r.subject]
            if key in FOLD_SPLITS:
                row["split"] = FOLD_SPLITS[key][fold_of[r.subject]]
        else:
            row["split"] = r.split
        row.update({au_name(a): v for a, v in zip(r.aus, r.labels, strict=True)})
        rows.append(row)
    with atomic_path(out / "no_face.csv", overwrite=True) as tmp:
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, ["source", "index", "subject", "video", "frame"])
            writer.writeheader()
            writer.writerows(missing_face)
    with atomic_path(out / "no_image.csv", overwrite=True) as tmp:
        with tmp.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["label_file", "line", "subject", "video", "frame", "expected"])
            writer.writerows(
                [m.label_file, m.line, m.subject, m.video, m.frame, m.expected] for m in no_image
            )
    if not rows:
        raise DatasetError(f"{root}: no face found in any frame; nothing to put in a manifest")
    if fold_of:
        folds_json = {
            "protocol": f"subject-independent {NUM_FOLDS}-fold",
            "source": folds_from,
            "folds": fold_of,
        }
        with atomic_path(out / "folds.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(folds_json, indent=2, sort_keys=True) + "\n")
        for k in range(NUM_FOLDS):
            fold_rows = [{**r, "split": "test" if r["fold"] == k else "train"} for r in rows]
            write_manifest(out / f"manifest-fold{k}.csv", fold_rows, overwrite=True)
    manifest = write_manifest(out / "manifest.csv", rows, overwrite=True)
    no_image = len(no_image)
    return PrepareSummary(
        out, len(records), len(todo), reused, len(missing_face), manifest, no_image
    )


def _run_pool(
    work: list[list[FrameRecord]],
    worker_args: tuple[object, ...],
    workers: int,
    record: Callable[[Sequence[tuple[str, str]]], None],
) -> None:
    """Run chunks in ``workers`` spawned processes, recording results as chunks finish."""
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_process,
        initargs=(threads, *worker_args),
    )
    try:
        pending = {pool.submit(_run_in_process, c) for c in work}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                record(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
