"""What every dataset reader yields, the errors it raises, and the fold protocol."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from d2ca.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".webm")


class DatasetError(InputError):
    """A dataset tree or label file that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class FrameRecord:
    """One labelled frame of a dataset as distributed.

    Attributes:
        source: the frame's image file, or the video file holding it.
        index: 0-based frame index inside ``source`` when it is a video, else ``None``.
        subject: subject id as the dataset writes it (``"F001"``, ``"SN001"``).
        video: task, video or sequence name (``"T1"``, ``"LeftCamera"``).
        frame: frame number as the dataset's label file writes it.
        labels: one value per AU of the dataset, in ``aus`` order: 1, 0 or -1 (unknown).
        aus: the AU numbers ``labels`` refers to.
        split: an official partition (``"train"`` / ``"test"``), or ``None`` when the
            protocol is subject-independent folds.
        face: which face to keep when a frame shows several: ``"largest"``, ``"left"``
            or ``"right"`` (Aff-Wild2 videos of two people).
        member: the image's path inside ``source`` when ``source`` is a zip archive (BP4D+
            ships its frames zipped per subject), else ``None``.
    """

    source: Path
    index: int | None
    subject: str
    video: str
    frame: int
    labels: tuple[int, ...]
    aus: tuple[int, ...]
    split: str | None = None
    face: str = "largest"
    member: str | None = None

    @property
    def location(self) -> Path:
        """The frame's file, written as a path into the zip for an archive member.

        >>> FrameRecord(Path("2D+3D/F001.zip"), None, "F001", "T1", 1, (0,), (1,),
        ...             member="F001/T1/001.jpg").location
        PosixPath('2D+3D/F001.zip/F001/T1/001.jpg')
        """
        return self.source / self.member if self.member else self.source


@dataclass(frozen=True)
class MissingImage:
    """A labelled frame whose image is not on disk: skipped, counted and reported."""

    label_file: Path
    line: int
    subject: str
    video: str
    frame: int
    expected: str


@dataclass
class Scan:
    """What a reader found in a tree, from names and labels only (no image is decoded).

    Attributes:
        records: every labelled frame that has an image (or a video frame).
        no_image: labelled frames without an image, in label-file order.
        offsets: ``"SUBJECT/TASK" -> (offset, why)`` where the reader chose how label frame
            numbers map to image numbers (image number = label frame + offset).
        notes: one-line remarks on what was read (release, flags seen, choices made).
    """

    records: list[FrameRecord]
    no_image: list[MissingImage] = field(default_factory=list)
    offsets: dict[str, tuple[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def find_child(folder: Path, *names: str, kind: str = "folder") -> Path:
    """The entry of ``folder`` named like one of ``names``, ignoring case.

    Raises:
        DatasetError: naming the folder and the names tried.

    Example:
        >>> find_child(root, "AUCoding").name  # doctest: +SKIP
        'aucoding'
    """
    if folder.is_dir():
        entries = {p.name.lower(): p for p in folder.iterdir()}
        for name in names:
            if name.lower() in entries:
                return entries[name.lower()]
    tried = " or ".join(repr(n) for n in names)
    raise DatasetError(f"{folder}: no {kind} named {tried}")


_FRAME_NAME = re.compile(r"(?:.*_)?(\d+)")


def frame_number(name: str) -> int | None:
    """The frame number an image name carries: ``0042.jpg`` and GFT's ``012C_1.jpg`` (subject,
    underscore, frame) give 42 and 1; a name that is not an image or has no number, ``None``.

    >>> frame_number("0042.jpg"), frame_number("012C_1.jpg"), frame_number("notes.txt")
    (42, 1, None)
    """
    path = Path(name)
    match = _FRAME_NAME.fullmatch(path.stem)
    if path.suffix.lower() not in IMAGE_SUFFIXES or not match:
        return None
    return int(match.group(1))


def numbered_images(folder: Path) -> dict[int, Path]:
    """Image files of a folder keyed by the number in their name (see :func:`frame_number`)."""
    frames: dict[int, Path] = {}
    for p in folder.iterdir():
        number = frame_number(p.name)
        if number is not None:
            frames[number] = p
    return frames


def read_occurrence_csv(
    path: Path, aus: Sequence[int], *, unknown: Iterable[int] = (9,), frame_column: bool = True
) -> Iterator[tuple[int, int, tuple[int, ...]]]:
    """Rows of a FACS occurrence CSV: a header ``Frame,1,2,...`` then ``frame,0/1/9...``.

    With ``frame_column`` the first column is the frame number whatever its header says;
    without it (ABAW files, header ``AU1,AU2,...``) data line ``n`` is frame ``n``. The other
    header cells are AU numbers (``12`` or ``AU12``). Only ``aus`` are returned, in that
    order; ``unknown`` codes become -1.

    Yields:
        ``(line, frame, labels)`` per data row (``line`` counts from 1, the header).

    Raises:
        DatasetError: naming the file and line of a missing AU column, a row with the wrong
            number of columns, or a value that is not 0, 1 or an unknown code.

    Example:
        >>> next(read_occurrence_csv(Path("F001_T1.csv"), (1, 2)))  # doctest: +SKIP
        (2, 1, (0, -1))
    """
    codes = sorted({0, 1, *unknown})
    first = 1 if frame_column else 0
    with path.open(newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if not header:
            raise DatasetError(f"{path}: line 1: empty file (expected a header of AU numbers)")
        columns: dict[int, int] = {}
        for i, cell in enumerate(header[first:], start=first):
            text = cell.strip().upper().removeprefix("AU")
            if text.isdigit():
                columns[int(text)] = i
        missing = [a for a in aus if a not in columns]
        if missing:
            raise DatasetError(
                f"{path}: line 1: no column for AU {', '.join(map(str, missing))} "
                f"(header: {','.join(header)[:80]})"
            )
        for lineno, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != len(header):
                raise DatasetError(
                    f"{path}: line {lineno}: {len(row)} columns, the header has {len(header)}"
                )
            try:
                frame = int(float(row[0])) if frame_column else lineno - 1
                values = [int(float(row[columns[a]])) for a in aus]
            except ValueError:
                raise DatasetError(f"{path}: line {lineno}: not a number: {row}") from None
            for a, v in zip(aus, values, strict=True):
                if v not in codes:
                    raise DatasetError(
                        f"{path}: line {lineno}: AU{a} value {v} is not one of {codes}"
                    )
            yield lineno, frame, tuple(-1 if v in unknown else v for v in values)


def subject_folds(subjects: Iterable[str], k: int = 3) -> dict[str, int]:
    """Subject-independent folds: sorted subject ids dealt round-robin into ``k`` folds.

    Deterministic (no randomness), and dealing sorted ids spreads the female (``F``) and
    male (``M``) subjects of BP4D over every fold.

    >>> subject_folds(["M001", "F002", "F001", "M002"], k=3)
    {'F001': 0, 'F002': 1, 'M001': 2, 'M002': 0}
    """
    return {s: i % k for i, s in enumerate(sorted(set(subjects)))}


def read_folds(path: Path) -> dict[str, int]:
    """Folds a user supplies: JSON ``{"folds": {"F001": 0, ...}}`` (what prepare writes)."""
    try:
        data = json.loads(path.read_text())
        folds = data["folds"] if "folds" in data else data
        return {str(s): int(f) for s, f in folds.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        message = f'{path}: not a folds file ({{"folds": {{subject: fold}}}}): {e}'
        raise DatasetError(message) from None
