"""Aff-Wild2 (ABAW AU detection challenge): cropped-aligned frames or videos, AU text files.

Layout (names matched ignoring case; the annotation folder is found by name anywhere up to
two levels below ROOT, as the ABAW releases name its parent differently)::

    ROOT/
      cropped_aligned/VIDEO/00001.jpg            (organisers' aligned crops), or
      videos/VIDEO.mp4                           (or batch1/, batch2/; VIDEO_left/_right
                                                  share VIDEO.mp4)
      Third ABAW Annotations/AU_Detection_Challenge/Train_Set/VIDEO.txt
                                                /Validation_Set/VIDEO.txt

Each annotation file has a header ``AU1,AU2,...,AU26`` and line ``n + 1`` labels frame ``n``
(from 1) with 0, 1 or -1 (unknown). Frames without a cropped image (no face found by the
organisers) and frames with every AU unknown are skipped. Train_Set is ``train``; the
validation set is the paper's test set (``test``). Subjects are not identified in Aff-Wild2:
the video name stands for the subject.
"""

from __future__ import annotations

from pathlib import Path

from d2ca.aus import DATASET_AUS
from d2ca.data.readers.base import (
    VIDEO_SUFFIXES,
    DatasetError,
    FrameRecord,
    find_child,
    numbered_images,
    read_occurrence_csv,
)

AUS = DATASET_AUS["affwild2"]
ANNOTATION_FOLDERS = ("AU_Detection_Challenge", "AU_Set")
SETS = (("Train_Set", "train"), ("Validation_Set", "test"))
VIDEO_FOLDERS = ("videos", "batch1", "batch2", "new_vids")


def annotation_folder(root: Path) -> Path:
    """The ``AU_Detection_Challenge`` (or ``AU_Set``) folder up to two levels below ROOT."""
    names = {n.lower() for n in ANNOTATION_FOLDERS}
    for depth in ("*", "*/*"):
        for p in sorted(root.glob(depth)):
            if p.is_dir() and p.name.lower() in names:
                return p
    raise DatasetError(f"{root}: no AU_Detection_Challenge folder (ABAW annotations)")


def video_files(root: Path) -> dict[str, Path]:
    """``name -> video file`` over ``videos/``, ``batch1/``, ``batch2/``."""
    found: dict[str, Path] = {}
    for p in root.iterdir():
        if p.is_dir() and p.name.lower() in VIDEO_FOLDERS:
            for v in p.iterdir():
                if v.suffix.lower() in VIDEO_SUFFIXES:
                    found[v.stem] = v
    return found


def read(root: str | Path) -> list[FrameRecord]:
    """Every labelled frame of the training and validation sets.

    Example:
        >>> records = read("/data/Aff-Wild2")  # doctest: +SKIP
        >>> records[0].video, records[0].frame, records[0].split  # doctest: +SKIP
        ('1-30-1280x720', 1, 'train')
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    annotations = annotation_folder(root)
    try:
        crops, videos = find_child(root, "cropped_aligned"), {}
    except DatasetError:
        crops, videos = None, video_files(root)
        if not videos:
            raise DatasetError(f"{root}: neither cropped_aligned/ nor videos/ found") from None
    records: list[FrameRecord] = []
    for set_name, split in SETS:
        folder = find_child(annotations, set_name)
        for path in sorted(folder.glob("*.txt")):
            name = path.stem
            base, _, side = name.rpartition("_")
            face = side if side in ("left", "right") else "largest"
            if crops is not None:
                images = numbered_images(find_child(crops, name, kind="crop folder"))
            elif (base if face != "largest" else name) in videos:
                images, video = {}, videos[base if face != "largest" else name]
            else:
                raise DatasetError(f"{path}: no video {name}.mp4 under {root}")
            before = len(records)
            for _line, frame, values in read_occurrence_csv(
                path, AUS, unknown=(-1,), frame_column=False
            ):
                if crops is not None:
                    if frame not in images:
                        continue
                    source, index = images[frame], None
                else:
                    source, index = video, frame - 1
                if all(v < 0 for v in values):
                    continue
                records.append(
                    FrameRecord(source, index, name, name, frame, values, AUS, split, face)
                )
            if len(records) == before:
                raise DatasetError(f"{path}: no labelled frames")
    return records
