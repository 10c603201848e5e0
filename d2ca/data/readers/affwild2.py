"""Aff-Wild2 (ABAW AU detection challenge): cropped-aligned frames or videos, AU text files.

Layouts accepted (names matched ignoring case; the annotation folder is found by name up to
three levels below ROOT, as the releases name and nest its parents differently)::

    ROOT/
      cropped_aligned/VIDEO/00001.jpg            (organisers' aligned crops), or
      videos/VIDEO.mp4                           (or videos/batch1/, batch1/, batch2/;
                                                  VIDEO_left/_right share VIDEO.mp4)
      Third ABAW Annotations/AU_Detection_Challenge/Train_Set/VIDEO.txt       (ABAW3, 12 AUs)
                                                /Validation_Set/VIDEO.txt
      annotations/annotations/AU_Set/Training_Set/VIDEO.txt    (2020 release, 8 AUs)
                                    /Validation_Set/VIDEO.txt

Each annotation file has a header ``AU1,AU2,...`` and line ``n + 1`` labels frame ``n``
(from 1) with 0, 1 or -1 (unknown). The header says the release: the 12 AUs of ABAW2 and
ABAW3 (1, 2, 4, 6, 7, 10, 12, 15, 23, 24, 25, 26) or the 8 of the 2020 release (1, 2, 4, 6,
12, 15, 20, 25). Frames without a cropped image (no face found by the organisers) are
skipped and reported; frames with every AU unknown are dropped. The training set is
``train``; the validation set is the paper's test set (``test``). Subjects are not
identified in Aff-Wild2: the video name stands for the subject.
"""

from __future__ import annotations

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

AUS = DATASET_AUS["affwild2"]
RELEASES = {"ABAW2/ABAW3": AUS, "2020": (1, 2, 4, 6, 12, 15, 20, 25)}
ANNOTATION_FOLDERS = ("AU_Detection_Challenge", "AU_Set")
SETS = ((("Train_Set", "Training_Set"), "train"), (("Validation_Set",), "test"))
VIDEO_FOLDERS = ("videos", "batch1", "batch2", "new_vids")


def annotation_folder(root: Path) -> Path:
    """The ``AU_Detection_Challenge`` (or ``AU_Set``) folder up to three levels below ROOT."""
    names = {n.lower() for n in ANNOTATION_FOLDERS}
    for depth in ("*", "*/*", "*/*/*"):
        for p in sorted(root.glob(depth)):
            if p.is_dir() and p.name.lower() in names:
                return p
    raise DatasetError(
        f"{root}: no AU_Detection_Challenge/ or AU_Set/ folder (ABAW annotations) "
        "up to three levels down"
    )


def video_files(folder: Path, depth: int = 2) -> dict[str, Path]:
    """``name -> video file`` in ``videos/``, ``batch1/``, ``batch2/`` and such folders
    nested in them (``videos/batch1/``), up to ``depth`` levels below ``folder``."""
    found: dict[str, Path] = {}
    for p in folder.iterdir():
        if depth and p.is_dir() and p.name.lower() in VIDEO_FOLDERS:
            for v in p.iterdir():
                if v.suffix.lower() in VIDEO_SUFFIXES:
                    found[v.stem] = v
            found.update(video_files(p, depth - 1))
    return found


def release_of(path: Path) -> str:
    """The release an annotation file's header belongs to (a key of :data:`RELEASES`)."""
    with path.open() as f:
        header = f.readline().strip()
    cells = {c.strip().upper().removeprefix("AU") for c in header.split(",")}
    numbers = {int(c) for c in cells if c.isdigit()}
    for name, aus in RELEASES.items():
        if numbers == set(aus):
            return name
    raise DatasetError(
        f"{path}: line 1: header {header[:60]!r} is neither the 12 AUs of ABAW2/ABAW3 "
        "nor the 8 of the 2020 release"
    )


def scan(root: str | Path) -> Scan:
    """Every labelled frame of the training and validation sets.

    Example:
        >>> records = scan("/data/Aff-Wild2").records  # doctest: +SKIP
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
    result = Scan([])
    releases = set()
    for set_names, split in SETS:
        folder = find_child(annotations, *set_names)
        for path in sorted(folder.glob("*.txt")):
            releases.add(release_of(path))
            if len(releases) > 1:
                raise DatasetError(f"{path}: header of another release than the files before it")
            aus = RELEASES[next(iter(releases))]
            name = path.stem
            base, _, side = name.rpartition("_")
            face = side if side in ("left", "right") else "largest"
            if crops is not None:
                crop_folder = find_child(crops, name, kind="crop folder")
                images = numbered_images(crop_folder)
            elif (base if face != "largest" else name) in videos:
                images, video = {}, videos[base if face != "largest" else name]
            else:
                raise DatasetError(f"{path}: no video {name}.mp4 under {root}")
            labelled = 0
            for line, frame, values in read_occurrence_csv(
                path, aus, unknown=(-1,), frame_column=False
            ):
                if all(v < 0 for v in values):
                    continue
                labelled += 1
                if crops is None:
                    source, index = video, frame - 1
                elif frame in images:
                    source, index = images[frame], None
                else:
                    expected = f"{crop_folder}: image {frame}"
                    result.no_image.append(MissingImage(path, line, name, name, frame, expected))
                    continue
                result.records.append(
                    FrameRecord(source, index, name, name, frame, values, aus, split, face)
                )
            if not labelled:
                raise DatasetError(f"{path}: no labelled frames")
    if not result.records:
        raise DatasetError(f"{root}: no labelled frame has a crop or a video")
    release = next(iter(releases))
    result.notes.append(
        f"release {release} ({len(RELEASES[release])} AUs); annotations: {annotations}; "
        f"frames: {crops if crops is not None else 'videos'}"
    )
    return result
