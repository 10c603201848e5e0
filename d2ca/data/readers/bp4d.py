"""BP4D as distributed: frame images per subject and task, FACS occurrence CSVs per task.

Layout (folder names matched ignoring case)::

    ROOT/
      BP4D-training/F001/T1/0001.jpg     (or 2D+3D/F001/T1/..., or Sequences/...)
      AUCoding/AU_OCC/F001_T1.csv        (or AU_OCC/F001_T1.csv)

Each CSV has a header ``Frame,1,2,4,...`` (first cell: any name) and one row per coded frame,
``0`` / ``1`` per AU and ``9`` for unknown. Frames whose AUs are all unknown are dropped.
"""

from __future__ import annotations

from pathlib import Path

from d2ca.aus import DATASET_AUS
from d2ca.data.readers.base import (
    DatasetError,
    FrameRecord,
    find_child,
    numbered_images,
    read_occurrence_csv,
)

FRAME_FOLDERS = ("BP4D-training", "2D+3D", "Sequences", "images")
LABEL_FOLDERS = (("AUCoding", "AU_OCC"), ("AU_OCC",))


def label_folder(root: Path) -> Path:
    """``ROOT/AUCoding/AU_OCC`` or ``ROOT/AU_OCC``."""
    for parts in LABEL_FOLDERS:
        folder = root
        try:
            for part in parts:
                folder = find_child(folder, part)
        except DatasetError:
            continue
        return folder
    raise DatasetError(f"{root}: no AUCoding/AU_OCC folder of occurrence CSVs")


def read_tasks(
    root: Path, aus: tuple[int, ...], frame_folders: tuple[str, ...]
) -> list[FrameRecord]:
    """Records of every ``SUBJECT_TASK.csv`` under the label folder, with their images."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    frames_root = find_child(root, *frame_folders)
    labels = label_folder(root)
    csvs = sorted(p for p in labels.iterdir() if p.suffix.lower() == ".csv")
    if not csvs:
        raise DatasetError(f"{labels}: no SUBJECT_TASK.csv files")
    records: list[FrameRecord] = []
    for path in csvs:
        subject, sep, task = path.stem.partition("_")
        if not sep:
            raise DatasetError(f"{path}: file name is not SUBJECT_TASK.csv (e.g. F001_T1.csv)")
        folder = find_child(find_child(frames_root, subject), task)
        images = numbered_images(folder)
        before = len(records)
        for line, frame, values in read_occurrence_csv(path, aus):
            if all(v < 0 for v in values):
                continue
            if frame not in images:
                raise DatasetError(f"{path}: line {line}: frame {frame} has no image in {folder}")
            records.append(FrameRecord(images[frame], None, subject, task, frame, values, aus))
        if len(records) == before:
            raise DatasetError(f"{path}: no labelled frames")
    labelled = {r.subject for r in records}
    for folder in sorted(frames_root.iterdir()):
        if folder.is_dir() and folder.name not in labelled:
            raise DatasetError(
                f"{folder}: subject {folder.name} has no labelled frames in {labels}"
            )
    return records


def read(root: str | Path) -> list[FrameRecord]:
    """Every labelled frame of a BP4D tree, in file order.

    Example:
        >>> records = read("/data/BP4D")  # doctest: +SKIP
        >>> records[0].subject, records[0].video, records[0].labels[:3]  # doctest: +SKIP
        ('F001', 'T1', (0, 0, 1))
    """
    return read_tasks(Path(root), DATASET_AUS["bp4d"], FRAME_FOLDERS)
