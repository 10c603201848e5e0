"""GFT (Sayette Group Formation Task): per-subject videos or frames, occurrence CSVs, partitions.

The exact folder names of the GFT distribution are not public; this reader expects the
layout below (names matched ignoring case) and documents it in ``docs/datasets.md``::

    ROOT/
      partitions.csv                   header "subject,split"; split is train or test
      AUCoding/AU_OCC/001A.csv         (or AU_OCC/, AUCoding/) header Frame,1,2,4,...; 9 unknown
      Frames/001A/000001.jpg           frame images (or 001A_1.jpg: subject, underscore,
                                       frame from 1, as a public derived list names them), or:
      Videos/001A.mp4                  one video per subject (frame n of the CSV = index n-1)

Labelled frames without an image are skipped and reported, as for BP4D.

The paper uses "the official partitions provided with GFT" without listing the subjects;
``partitions.csv`` holds them (from the distribution, or written by the user).
"""

from __future__ import annotations

import csv
from pathlib import Path

from d2ca.aus import DATASET_AUS
from d2ca.data.readers.base import (
    VIDEO_SUFFIXES,
    DatasetError,
    FrameRecord,
    MissingImage,
    Scan,
    find_child,
    numbered_images,
    read_occurrence_csv,
)
from d2ca.data.readers.bp4d import label_folder

AUS = DATASET_AUS["gft"]
SPLITS = ("train", "test")


def read_partitions(path: Path) -> dict[str, str]:
    """``subject -> split`` from a ``subject,split`` CSV; errors name the file and line."""
    if not path.is_file():
        raise DatasetError(
            f"{path}: no partitions file; GFT's official train/test subjects go there as "
            "'subject,split' lines (see docs/datasets.md)"
        )
    parts: dict[str, str] = {}
    with path.open(newline="") as f:
        rows = csv.reader(f)
        header = [c.strip().lower() for c in next(rows, [])]
        if header != ["subject", "split"]:
            raise DatasetError(f"{path}: line 1: header must be subject,split")
        for lineno, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != 2 or row[1].strip().lower() not in SPLITS:
                raise DatasetError(f"{path}: line {lineno}: expected SUBJECT,train|test")
            parts[row[0].strip()] = row[1].strip().lower()
    return parts


def scan(root: str | Path, partitions: str | Path | None = None) -> Scan:
    """Every labelled frame of a GFT tree with its official split.

    Args:
        root: the GFT folder.
        partitions: a ``subject,split`` CSV; default ``ROOT/partitions.csv``.

    Example:
        >>> records = scan("/data/GFT").records  # doctest: +SKIP
        >>> records[0].subject, records[0].split  # doctest: +SKIP
        ('001A', 'train')
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    split_of = read_partitions(Path(partitions) if partitions else root / "partitions.csv")
    labels = label_folder(root)
    try:
        frames_root, videos_root = find_child(root, "Frames", "images"), None
    except DatasetError:
        frames_root, videos_root = None, find_child(root, "Videos", "Frames")
    result = Scan([])
    records = result.records
    csvs = sorted(p for p in labels.iterdir() if p.suffix.lower() == ".csv")
    if not csvs:
        raise DatasetError(f"{labels}: no SUBJECT.csv files")
    for path in csvs:
        subject = path.stem
        if subject not in split_of:
            raise DatasetError(f"{path}: subject {subject} is in no partition of partitions.csv")
        if frames_root is not None:
            folder = find_child(frames_root, subject)
            images, video = numbered_images(folder), None
        else:
            found = [
                p
                for p in videos_root.iterdir()
                if p.stem.lower() == subject.lower() and p.suffix.lower() in VIDEO_SUFFIXES
            ]
            if not found:
                raise DatasetError(f"{videos_root}: no video {subject}.mp4 for {path.name}")
            images, video = {}, found[0]
        labelled = 0
        for line, frame, values in read_occurrence_csv(path, AUS):
            if all(v < 0 for v in values):
                continue
            labelled += 1
            if video is not None:
                source, index = video, frame - 1
            elif frame in images:
                source, index = images[frame], None
            else:
                missing = MissingImage(
                    path, line, subject, subject, frame, f"{folder}: image {frame}"
                )
                result.no_image.append(missing)
                continue
            records.append(
                FrameRecord(source, index, subject, subject, frame, values, AUS, split_of[subject])
            )
        if not labelled:
            raise DatasetError(f"{path}: no labelled frames")
    if not records:
        raise DatasetError(f"{root}: no labelled frame has an image or a video")
    result.notes.append(f"partitions: {partitions or root / 'partitions.csv'}; labels: {labels}")
    return result
