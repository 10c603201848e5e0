"""BP4D as distributed: frame images per subject and task, FACS occurrence CSVs per task.

Layouts accepted (folder names matched ignoring case)::

    ROOT/
      BP4D-training/F001/T1/0001.jpg      or Sequences(2D+3D)/, Sequences_2D+3D/, 2D+3D/,
                                          Sequences/, images/ instead of BP4D-training/;
                                          or F001.zip holding F001/T1/*.jpg (BP4D+)
      AUCoding/AU_OCC/F001_T1.csv         or AU_OCC/F001_T1.csv, or AUCoding/F001_T1.csv

Each CSV has a header whose first cell is the frame column and whose other cells are AU
numbers: the distributed files write ``0,1,2,...,99`` (100 columns, column ``k`` is AU
``k``); ``Frame,1,2,4,...`` and ``AU1,...`` read the same way. Values are ``0`` / ``1`` per
AU and ``9`` for unknown. Frames whose AUs are all unknown are dropped. In the 100-column
files the last column (``99``) is an occlusion flag in OpenFace's reading
(``extract_BP4D_labels.m``): flagged frames are counted and reported, and kept.

Labelled frames without an image on disk (many BP4D frames lack one) are skipped and
listed in :attr:`~d2ca.data.readers.base.Scan.no_image`, never an error; a missing subject
or task folder (or a zip without the task) is an error naming the path expected.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from d2ca.aus import DATASET_AUS
from d2ca.data.readers.base import (
    DatasetError,
    FrameRecord,
    MissingImage,
    Scan,
    find_child,
    frame_number,
    numbered_images,
    read_occurrence_csv,
)

FRAME_FOLDERS = (
    "BP4D-training",
    "Sequences(2D+3D)",
    "Sequences_2D+3D",
    "2D+3D",
    "Sequences",
    "images",
)
LABEL_FOLDERS = (("AUCoding", "AU_OCC"), ("AU_OCC",), ("AUCoding",))
OCCLUSION_COLUMN = 99  # last cell of the distributed header 0,1,...,99
OFFSETS = (0, -1)  # image number = label frame + offset

Images = dict[int, tuple[Path, str | None]]


def label_folder(root: Path) -> Path:
    """``ROOT/AUCoding/AU_OCC``, ``ROOT/AU_OCC`` or ``ROOT/AUCoding``: the first holding CSVs."""
    for parts in LABEL_FOLDERS:
        folder = root
        try:
            for part in parts:
                folder = find_child(folder, part)
        except DatasetError:
            continue
        if folder.is_dir() and any(p.suffix.lower() == ".csv" for p in folder.iterdir()):
            return folder
    raise DatasetError(
        f"{root}: no AUCoding/AU_OCC/ (or AU_OCC/, AUCoding/) folder of SUBJECT_TASK.csv files"
    )


def parse_offset(value: int | str) -> int | str:
    """``"auto"``, ``0`` or ``-1`` (also as text); anything else is a :class:`DatasetError`."""
    text = str(value).strip().lower()
    if text == "auto":
        return text
    if text in ("0", "-1"):
        return int(text)
    raise DatasetError(
        f"frame offset must be auto, 0 or -1 (image number = CSV frame + offset), not {value!r}"
    )


def choose_offset(frames: Sequence[int], numbers: Collection[int]) -> tuple[int, str]:
    """The offset (0 or -1) that lines a task's labelled frames up with its image numbers.

    The offset under which more labelled frames have an image wins. When both match as many
    (images cover more than the coded segment), images numbered from 0 mean -1 (labels
    count from 1, images from 0), else 0.

    >>> choose_offset([1, 2, 3], {0, 1, 2})
    (-1, 'lines up 3 of 3 labelled frames (offset 0: 2)')
    >>> choose_offset([5, 6], set(range(0, 10)))
    (-1, 'both line up; images count from 0')
    """
    hits = {d: sum(f + d in numbers for f in frames) for d in OFFSETS}
    if hits[0] != hits[-1]:
        best = max(OFFSETS, key=hits.__getitem__)
        other = OFFSETS[1 - OFFSETS.index(best)]
        counts = f"{hits[best]} of {len(frames)} labelled frames (offset {other}: {hits[other]})"
        return best, f"lines up {counts}"
    if numbers and min(numbers) == 0 and min(frames, default=1) >= 1:
        return -1, "both line up; images count from 0"
    return 0, "both line up; images count from 1"


def zip_tasks(archive: Path) -> dict[str, Images]:
    """``task (lower case) -> images`` of a subject zip holding ``F001/T1/0001.jpg``."""
    try:
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"{archive}: not a readable zip archive ({e})") from None
    tasks: dict[str, Images] = {}
    for name in names:
        parts = name.rstrip("/").split("/")
        number = frame_number(parts[-1])
        if number is not None and len(parts) >= 2:
            tasks.setdefault(parts[-2].lower(), {})[number] = (archive, name)
    return tasks


def subject_sources(frames_root: Path) -> dict[str, Path]:
    """``subject (lower case) -> folder or zip`` of the frame folder."""
    sources = {}
    for p in frames_root.iterdir():
        if p.is_dir() or p.suffix.lower() == ".zip":
            sources[(p.name if p.is_dir() else p.stem).lower()] = p
    return sources


def labelled_rows(
    path: Path, aus: tuple[int, ...]
) -> Iterator[tuple[int, int, tuple[int, ...], bool]]:
    """``(line, frame, labels, occluded)`` of the rows with at least one known AU."""
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    flagged = len(header) == 100 and header[-1].strip() == str(OCCLUSION_COLUMN)
    columns = (*aus, OCCLUSION_COLUMN) if flagged else aus
    for line, frame, values in read_occurrence_csv(path, columns):
        labels = values[: len(aus)]
        if any(v >= 0 for v in labels):
            yield line, frame, labels, flagged and values[-1] == 1


def read_tasks(
    root: Path,
    aus: tuple[int, ...],
    frame_folders: tuple[str, ...],
    frame_offset: int | str | None = None,
) -> Scan:
    """Records of every ``SUBJECT_TASK.csv`` under the label folder, with their images.

    Args:
        frame_offset: ``None``: CSV frame ``n`` is image ``n`` (BP4D); ``"auto"``: chosen per
            task by :func:`choose_offset` and reported; ``0`` or ``-1``: given.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    given = None if frame_offset is None else parse_offset(frame_offset)
    frames_root = find_child(root, *frame_folders)
    labels = label_folder(root)
    csvs = sorted(p for p in labels.iterdir() if p.suffix.lower() == ".csv")
    sources = subject_sources(frames_root)
    zipped: dict[Path, dict[str, Images]] = {}
    scan = Scan([])
    occluded = 0
    for path in csvs:
        subject, sep, task = path.stem.partition("_")
        if not sep:
            raise DatasetError(f"{path}: file name is not SUBJECT_TASK.csv (e.g. F001_T1.csv)")
        source = sources.get(subject.lower())
        if source is None:
            raise DatasetError(
                f"{frames_root}: no folder {subject}/ or {subject}.zip for {path.name}"
            )
        if source.is_dir():
            folder = find_child(source, task)
            images: Images = {n: (p, None) for n, p in numbered_images(folder).items()}
            where = str(folder)
        else:
            if source not in zipped:
                zipped[source] = zip_tasks(source)
            where = f"{source}/{subject}/{task}"
            if task.lower() not in zipped[source]:
                raise DatasetError(f"{source}: no images {subject}/{task}/*.jpg for {path.name}")
            images = zipped[source][task.lower()]
        rows = list(labelled_rows(path, aus))
        if not rows:
            raise DatasetError(f"{path}: no labelled frames")
        shift = 0
        if given is not None:
            shift, why = (
                choose_offset([r[1] for r in rows], images) if given == "auto" else (given, "given")
            )
            scan.offsets[f"{subject}/{task}"] = (shift, why)
        for line, frame, values, flag in rows:
            if frame + shift not in images:
                scan.no_image.append(
                    MissingImage(
                        path, line, subject, task, frame, f"{where}: image {frame + shift}"
                    )
                )
                continue
            image, member = images[frame + shift]
            occluded += flag
            scan.records.append(
                FrameRecord(image, None, subject, task, frame, values, aus, member=member)
            )
    if not scan.records:
        raise DatasetError(
            f"{frames_root}: no labelled frame has an image (e.g. {scan.no_image[0].expected})"
        )
    labelled = {r.subject.lower() for r in scan.records} | {
        m.subject.lower() for m in scan.no_image
    }
    for name, source in sorted(sources.items()):
        if name not in labelled:
            raise DatasetError(
                f"{source}: subject {source.stem} has no labelled frames in {labels}"
            )
    kind = "zip per subject" if zipped else "folder per subject and task"
    scan.notes.append(f"images: {frames_root} ({kind}); labels: {labels}")
    if occluded:
        scan.notes.append(
            f"occlusion flag (last CSV column, '99', as OpenFace reads it) set on {occluded} "
            "frames with an image; they are kept"
        )
    return scan


def scan(root: str | Path) -> Scan:
    """Every labelled frame of a BP4D tree, in file order, and the frames without an image.

    Example:
        >>> records = scan("/data/BP4D").records  # doctest: +SKIP
        >>> records[0].subject, records[0].video, records[0].labels[:3]  # doctest: +SKIP
        ('F001', 'T1', (0, 0, 1))
    """
    return read_tasks(Path(root), DATASET_AUS["bp4d"], FRAME_FOLDERS)
