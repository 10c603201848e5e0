"""DISFA as distributed: one video per subject and camera, one intensity file per AU.

Layout (names matched ignoring case)::

    ROOT/
      Videos_LeftCamera/LeftVideoSN001_comp.avi
      Video_RightCamera/RightVideoSN001_Comp.avi   (singular, as distributed; the names of
                                                  both folders are accepted either way)
      ActionUnit_Labels/SN001/SN001_au1.txt      lines "frame,intensity", frame from 1

Intensities run from 0 to 5; greater than 1 is positive (the paper's protocol). Frame ``n``
of the label files is frame ``n - 1`` of the video.
"""

from __future__ import annotations

from pathlib import Path

from d2ca.aus import DATASET_AUS
from d2ca.data.readers.base import DatasetError, FrameRecord, Scan, find_child

AUS = DATASET_AUS["disfa"]


def read_intensities(path: Path) -> dict[int, int]:
    """``frame -> intensity`` of one ``SN001_au1.txt``; errors name the file and line."""
    values: dict[int, int] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.replace("\t", ",").split(",")]
        if len(cells) != 2:
            raise DatasetError(
                f"{path}: line {lineno}: {len(cells)} columns, expected frame,intensity"
            )
        try:
            frame, value = int(cells[0]), int(float(cells[1]))
        except ValueError:
            raise DatasetError(f"{path}: line {lineno}: not a number: {line.strip()!r}") from None
        if not 0 <= value <= 5:
            raise DatasetError(f"{path}: line {lineno}: intensity {value} is outside 0-5")
        values[frame] = value
    if not values:
        raise DatasetError(f"{path}: no labelled frames")
    return values


def find_video(folder: Path, camera: str, subject: str) -> Path:
    """``LeftVideoSN001_comp.avi`` (any case, any video suffix) in ``folder``."""
    stem = f"{camera}video{subject}_comp".lower()
    for p in folder.iterdir():
        if p.stem.lower() == stem:
            return p
    raise DatasetError(f"{folder}: no video {camera.capitalize()}Video{subject}_comp.avi")


def scan(root: str | Path, camera: str = "left") -> Scan:
    """Every labelled frame of one DISFA camera (left by default, as in the literature).

    Example:
        >>> records = scan("/data/DISFA").records  # doctest: +SKIP
        >>> records[0].source.name, records[0].index, records[0].frame  # doctest: +SKIP
        ('LeftVideoSN001_comp.avi', 0, 1)
    """
    root = Path(root)
    if camera not in ("left", "right"):
        raise DatasetError(f"DISFA camera must be 'left' or 'right', not {camera!r}")
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    videos = find_child(root, f"Videos_{camera}Camera", f"Video_{camera}Camera")
    labels_root = find_child(root, "ActionUnit_Labels")
    subjects = sorted(p for p in labels_root.iterdir() if p.is_dir())
    if not subjects:
        raise DatasetError(f"{labels_root}: no subject folders (e.g. SN001)")
    records: list[FrameRecord] = []
    for folder in subjects:
        subject = folder.name
        video = find_video(videos, camera, subject)
        per_au = {}
        for au in AUS:
            path = find_child(folder, f"{subject}_au{au}.txt", kind="label file")
            per_au[au] = read_intensities(path)
        frames = sorted(per_au[AUS[0]])
        for au in AUS[1:]:
            if sorted(per_au[au]) != frames:
                path = find_child(folder, f"{subject}_au{au}.txt")
                odd = sorted(set(per_au[au]) ^ set(frames))[0]
                raise DatasetError(
                    f"{path}: frame {odd} is in one of {subject}_au{AUS[0]}.txt and this file only"
                )
        for frame in frames:
            if frame < 1:
                raise DatasetError(f"{folder}: frame {frame}: DISFA frames count from 1")
            values = tuple(int(per_au[au][frame] > 1) for au in AUS)
            records.append(
                FrameRecord(
                    video, frame - 1, subject, f"{camera.capitalize()}Camera", frame, values, AUS
                )
            )
    return Scan(records, notes=[f"{camera} camera videos: {videos}"])
