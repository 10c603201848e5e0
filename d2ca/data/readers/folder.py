"""Any folder of images and videos as frame records: subjects, optional labels, bad files.

Layout: anything. Every image and video under ``ROOT`` (recursively; hidden files and
folders skipped) is read; the file's path relative to ``ROOT`` names it everywhere
(``video`` column of the manifest, label files).

- **Frames.** An image is one frame (``frame`` 0); a video gives every ``every``-th frame,
  counted from 0 as ``d2ca detect`` counts them, plus every labelled frame.
- **Subjects.** From a subjects CSV (columns ``file,subject``) when given; otherwise one
  pseudo subject per video file (its relative path without the suffix) and one per folder
  of images (the folder's relative path; ``ROOT``'s own name for images directly in it).
- **Labels** (optional) in two forms, told apart by their header:

  - our own CSV: ``file`` (relative path), ``frame`` (video frame index from 0; empty for
    images), and AU columns ``AU01`` / ``AU1``... holding 1, 0 or -1 (empty: -1). Other
    columns are ignored; an AU column d2ca does not know is an error.
  - an OpenFace output CSV (``frame``, ``face_id``, ``success``, ``AU01_c``...): it labels
    the video (or image) of the same stem, as OpenFace names its output; ``frame`` counts
    from 1. Rows of face 0 with ``success`` 1 are read; OpenFace's AU28 and AU45 are not
    in d2ca's vocabulary and are skipped.

  Every AU of the vocabulary gets a manifest column; unlabelled values are -1.
- **Unreadable files** (corrupt, empty, unsupported) are decoded once here and listed
  with a one-line reason instead of stopping the run.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from d2ca.aus import AU_DESCRIPTIONS, au_name
from d2ca.data.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from d2ca.data.readers.base import DatasetError, FrameRecord

AUS: tuple[int, ...] = tuple(sorted(AU_DESCRIPTIONS))  # every manifest column
SPLIT = "train"  # an unlabelled target is adaptation data; nothing is held out for testing
_AU_COLUMN = re.compile(r"^AU(\d+)$", re.IGNORECASE)
_OPENFACE_COLUMN = re.compile(r"^AU(\d+)_c$", re.IGNORECASE)

Key = tuple[str, int | None]  # (relative file, video frame index or None for an image)


@dataclass(frozen=True)
class FolderScan:
    """What :func:`scan_folder` found.

    Attributes:
        records: one per frame to prepare, labels in :data:`AUS` order (-1: unknown).
        files: image and video files found.
        unreadable: ``(relative path, reason)`` of each file that cannot be decoded.
        labelled: frames that carry at least one label.
    """

    records: list[FrameRecord]
    files: int
    unreadable: list[tuple[str, str]]
    labelled: int


def list_media(root: Path) -> list[Path]:
    """Image and video files under ``root``, sorted, hidden files and folders skipped."""
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    suffixes = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def check_file(path: Path) -> tuple[int | None, str | None]:
    """``(frame count, None)`` for a video, ``(None, None)`` for an image that decodes,
    ``(None, reason)`` for a file that cannot be read. Videos are decoded to the end."""
    import cv2

    if path.stat().st_size == 0:
        return None, "empty file"
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        ok = cv2.imread(str(path), cv2.IMREAD_COLOR) is not None
        return None, None if ok else "not a readable image (corrupt or unsupported)"
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None, "not a readable video (corrupt or unsupported)"
        count = 0
        while capture.grab():  # the container's frame count is not always right
            count += 1
    finally:
        capture.release()
    return (count, None) if count else (None, "no frame could be decoded")


def read_subjects(path: Path, files: Iterable[str]) -> dict[str, str]:
    """``file -> subject`` from a CSV with ``file`` and ``subject`` columns; every file
    of the folder must have a row."""
    table: dict[str, str] = {}
    with _open_csv(path) as (header, rows):
        for column in ("file", "subject"):
            if column not in header:
                raise DatasetError(f"{path}: line 1: no {column!r} column (need file,subject)")
        for lineno, row in rows:
            file, subject = _relative(row["file"]), row["subject"].strip()
            if not subject:
                raise DatasetError(f"{path}: line {lineno}: empty subject for {file}")
            table[file] = subject
    missing = [f for f in files if f not in table]
    if missing:
        raise DatasetError(f"{path}: no subject for {missing[0]} ({len(missing)} files lack one)")
    return table


def pseudo_subject(rel: str, root: Path) -> str:
    """A video's relative path without suffix; an image's folder (``root``'s name at top).

    >>> [pseudo_subject(f, Path("/data/mine")) for f in ("day1/clip.mp4", "a.jpg", "b/c.jpg")]
    ['day1/clip', 'mine', 'b']
    """
    path = Path(rel)
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return path.with_suffix("").as_posix()
    return path.parent.as_posix() if path.parent != Path(".") else root.resolve().name


def read_labels(
    paths: Sequence[Path], lengths: dict[str, int | None], unreadable: Iterable[str] = ()
) -> dict[Key, dict[int, int]]:
    """Labels of every label file: ``(file, frame index) -> {AU number: 1 / 0 / -1}``.

    Args:
        lengths: relative file -> frame count (videos) or None (images), for the checks.
        unreadable: files whose labels are skipped (they are reported as unreadable).

    Raises:
        DatasetError: naming the file and line of a file or frame that does not exist, an
            unknown AU column, a value outside 1 / 0 / -1, or a frame labelled twice.
    """
    skip = set(unreadable)
    labels: dict[Key, dict[int, int]] = {}
    for path in paths:
        with _open_csv(path) as (header, rows):
            if "file" in header:
                read = _own_rows(path, header, rows, lengths, skip)
            elif "frame" in header and any(_OPENFACE_COLUMN.match(c) for c in header):
                read = _openface_rows(path, header, rows, lengths, skip)
            else:
                raise DatasetError(
                    f"{path}: line 1: neither a labels CSV (file, frame, AU01...) nor an "
                    "OpenFace CSV (frame, AU01_c...)"
                )
            for lineno, key, values in read:
                if key in labels:
                    where = f"frame {key[1]} of {key[0]}" if key[1] is not None else key[0]
                    raise DatasetError(f"{path}: line {lineno}: {where} is labelled twice")
                labels[key] = values
    return labels


def scan_folder(
    root: str | Path,
    *,
    every: int = 1,
    labels: Sequence[str | Path] = (),
    subjects: str | Path | None = None,
) -> FolderScan:
    """Frame records of every image and video under ``root`` (see the module docstring).

    Example:
        >>> scan = scan_folder("my_videos", every=5)  # doctest: +SKIP
        >>> scan.files, len(scan.records), scan.unreadable  # doctest: +SKIP
        (3, 412, [('broken.mp4', 'not a readable video (corrupt or unsupported)')])
    """
    if every < 1:
        raise DatasetError(f"every must be at least 1, got {every}")
    root = Path(root)
    files = list_media(root)
    if not files:
        raise DatasetError(f"{root}: no image or video files (searched recursively)")
    lengths: dict[str, int | None] = {}
    unreadable: list[tuple[str, str]] = []
    for path in files:
        count, reason = check_file(path)
        rel = path.relative_to(root).as_posix()
        if reason:
            unreadable.append((rel, reason))
        else:
            lengths[rel] = count
    subject_of = (
        read_subjects(Path(subjects), lengths)
        if subjects
        else {rel: pseudo_subject(rel, root) for rel in lengths}
    )
    table = read_labels([Path(p) for p in labels], lengths, (rel for rel, _ in unreadable))
    records, labelled = [], 0
    for rel, count in lengths.items():
        marked = sorted(k[1] for k in table if k[0] == rel and k[1] is not None)
        indices = [None] if count is None else sorted({*range(0, count, every), *marked})
        for index in indices:
            values = table.get((rel, index), {})
            labelled += bool(values)
            records.append(
                FrameRecord(root / rel, index, subject_of[rel], rel, index or 0,
                            tuple(values.get(a, -1) for a in AUS), AUS, SPLIT)
            )  # fmt: skip
    return FolderScan(records, len(files), unreadable, labelled)


# ---------------------------------------------------------------------------- helpers
Rows = Iterator[tuple[int, dict[str, str]]]


@contextmanager
def _open_csv(path: Path) -> Iterator[tuple[list[str], Rows]]:
    """``with _open_csv(path) as (header, rows)``: stripped header, ``(line, row)`` pairs."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [c.strip() for c in next(reader, [])]
        if not header:
            raise DatasetError(f"{path}: line 1: empty file")

        def rows() -> Rows:
            for lineno, row in enumerate(reader, start=2):
                if not "".join(row).strip():
                    continue
                if len(row) != len(header):
                    raise DatasetError(
                        f"{path}: line {lineno}: {len(row)} columns, the header has {len(header)}"
                    )
                yield lineno, dict(zip(header, (c.strip() for c in row), strict=True))

        yield header, rows()


def _relative(text: str) -> str:
    return Path(text.strip()).as_posix().removeprefix("./")


def _au_columns(path: Path, header: list[str], pattern: re.Pattern[str]) -> dict[str, int]:
    """Header cell -> AU number; an AU d2ca does not know is an error (OpenFace: skipped)."""
    columns = {c: int(m.group(1)) for c in header if (m := pattern.match(c))}
    unknown = [c for c, n in columns.items() if n not in AU_DESCRIPTIONS]
    if pattern is _OPENFACE_COLUMN:
        return {c: n for c, n in columns.items() if c not in unknown}
    if unknown:
        known = ", ".join(au_name(n) for n in AUS)
        raise DatasetError(f"{path}: line 1: unknown AU column {unknown[0]} (d2ca knows {known})")
    if not columns:
        raise DatasetError(f"{path}: line 1: no AU columns (e.g. AU12)")
    return columns


def _value(path: Path, lineno: int, column: str, text: str, codes: tuple[int, ...]) -> int:
    try:
        value = int(float(text)) if text else -1
    except ValueError:
        value = None
    if value not in codes:
        allowed = ", ".join(map(str, codes))
        raise DatasetError(f"{path}: line {lineno}: {column} is {text!r}, not one of {allowed}")
    return value


def _frame(path: Path, lineno: int, rel: str, index: int | None, count: int | None) -> int | None:
    """The checked frame key of a label row: ``None`` for an image."""
    if count is None:
        if index not in (None, 0):
            raise DatasetError(f"{path}: line {lineno}: {rel} is an image; it has no frame {index}")
        return None
    if index is None:
        raise DatasetError(f"{path}: line {lineno}: {rel} is a video; give the frame")
    if not 0 <= index < count:
        raise DatasetError(f"{path}: line {lineno}: {rel} has frames 0 to {count - 1}, not {index}")
    return index


def _own_rows(
    path: Path, header: list[str], rows: Rows, lengths: dict[str, int | None], skip: set[str]
) -> Iterator[tuple[int, Key, dict[int, int]]]:
    columns = _au_columns(path, header, _AU_COLUMN)
    for lineno, row in rows:
        rel = _relative(row["file"])
        if rel in skip:
            continue
        if rel not in lengths:
            raise DatasetError(f"{path}: line {lineno}: no file {rel!r} in the folder")
        text = row.get("frame", "")
        try:
            index = int(text) if text else None
        except ValueError:
            raise DatasetError(f"{path}: line {lineno}: frame {text!r} is not a number") from None
        values = {n: _value(path, lineno, c, row[c], (1, 0, -1)) for c, n in columns.items()}
        yield lineno, (rel, _frame(path, lineno, rel, index, lengths[rel])), values


def _openface_rows(
    path: Path, header: list[str], rows: Rows, lengths: dict[str, int | None], skip: set[str]
) -> Iterator[tuple[int, Key, dict[int, int]]]:
    columns = _au_columns(path, header, _OPENFACE_COLUMN)
    matches = [rel for rel in [*lengths, *skip] if Path(rel).stem == path.stem]
    if len(matches) != 1:
        found = "no such file" if not matches else f"{len(matches)}: {', '.join(matches[:3])}"
        raise DatasetError(
            f"{path}: an OpenFace CSV labels the file of the same name ({path.stem}.*); "
            f"the folder has {found}"
        )
    rel = matches[0]
    if rel in skip:
        return
    face = "face_id" if "face_id" in header else "face" if "face" in header else None
    for lineno, row in rows:
        try:
            other_face = face is not None and float(row[face] or 0) != 0
            if other_face or float(row.get("success") or 1) == 0:
                continue
            index = int(float(row["frame"])) - 1 if lengths[rel] is not None else None
        except ValueError:
            raise DatasetError(
                f"{path}: line {lineno}: frame, face or success is not a number"
            ) from None
        values = {n: _value(path, lineno, c, row[c], (1, 0)) for c, n in columns.items()}
        yield lineno, (rel, _frame(path, lineno, rel, index, lengths[rel])), values
