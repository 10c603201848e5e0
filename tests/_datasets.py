"""Builders of tiny dataset trees laid out as each dataset is distributed.

Labels follow ``pattern`` so a test can recompute what a reader must return; frames are
tiny black images unless a test asks for faces (``face_frame``: the astronaut photograph
shifted per frame, which MTCNN finds) or blanks (no face).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import cv2
import numpy as np

from d2ca.aus import DATASET_AUS

Labels = dict[tuple[str, str, int], tuple[int, ...]]
ImageFn = Callable[[str, int], np.ndarray]


def pattern(subject: int, video: int, frame: int, au: int) -> int:
    """A label code in {0, 1, 2}: 2 marks "unknown" (written as 9 or -1 by the builders)."""
    return (subject * 7 + video * 5 + frame * 3 + au) % 3


def tiny(_: str, __: int) -> np.ndarray:
    return np.zeros((8, 8, 3), np.uint8)


_ASTRONAUT: np.ndarray | None = None


def face_frame(_: str, frame: int) -> np.ndarray:
    """A 160 x 160 RGB frame holding the astronaut's face, shifted by the frame number."""
    global _ASTRONAUT
    if _ASTRONAUT is None:
        import skimage.data

        _ASTRONAUT = skimage.data.astronaut()
    d = 4 * (frame % 5)
    region = _ASTRONAUT[10 + d : 240 + d, 110 + d : 340 + d]
    return cv2.resize(region, (160, 160), interpolation=cv2.INTER_AREA)


def blank_frame(_: str, __: int) -> np.ndarray:
    return np.full((160, 160, 3), 128, np.uint8)


def write_image(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def write_video(path: Path, frames: Sequence[np.ndarray]) -> None:
    """An MJPG AVI (intra-only, so every frame decodes exactly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()


def make_bp4d(
    root: Path,
    *,
    subjects: Sequence[str] = ("F001", "F002", "M001"),
    tasks: Sequence[str] = ("T1", "T2"),
    frames: Sequence[int] = (1, 2, 3),
    frame_folder: str = "BP4D-training",
    label_folder: str = "AUCoding/AU_OCC",
    dataset: str = "bp4d",
    image: ImageFn = tiny,
    distributed_header: bool = False,
    occluded: Collection[int] = (),
    zipped: bool = False,
    image_offset: int = 0,
    digits: int = 4,
    missing: Collection[tuple[str, str, int]] = (),
) -> Labels:
    """A BP4D / BP4D+ tree; each CSV also codes AU 3 and has an all-unknown row (frame 99,
    no image) that the reader must drop. Returns the expected labels.

    ``distributed_header`` writes the 100-column header ``0,1,...,99`` of the distributed
    files (uncoded AUs 9, column 99 the occlusion flag, 1 for ``occluded`` frames);
    ``zipped`` puts each subject's frames in ``FRAME_FOLDER/SUBJECT.zip`` as
    ``SUBJECT/TASK/NNN.jpg`` (BP4D+); CSV frame ``f`` is image ``f + image_offset`` named
    with ``digits`` digits; ``(subject, task, frame)`` in ``missing`` gets no image."""
    aus = DATASET_AUS[dataset]
    coded = sorted({3, *aus})
    columns = list(range(1, 100)) if distributed_header else coded
    expected: Labels = {}
    for s, subject in enumerate(subjects):
        archive = None
        if zipped:
            (root / frame_folder).mkdir(parents=True, exist_ok=True)
            archive = zipfile.ZipFile(root / frame_folder / f"{subject}.zip", "w")
        for t, task in enumerate(tasks):
            lines = [("0," if distributed_header else "Frame,") + ",".join(map(str, columns))]
            for frame in frames:
                codes = {a: pattern(s, t, frame, i) for i, a in enumerate(coded)}
                cells = [str(9 if codes.get(a, 2) == 2 else codes[a]) for a in columns]
                if distributed_header:
                    cells[-1] = str(int(frame in occluded))
                lines.append(f"{frame}," + ",".join(cells))
                expected[subject, task, frame] = tuple(
                    -1 if codes[a] == 2 else codes[a] for a in aus
                )
                if (subject, task, frame) in missing:
                    continue
                name = f"{frame + image_offset:0{digits}d}.jpg"
                if archive is not None:
                    ok, data = cv2.imencode(
                        ".jpg", cv2.cvtColor(image(subject, frame), cv2.COLOR_RGB2BGR)
                    )
                    assert ok
                    archive.writestr(f"{subject}/{task}/{name}", data.tobytes())
                else:
                    write_image(root / frame_folder / subject / task / name, image(subject, frame))
            lines.append("99," + ",".join("9" for _ in columns))
            csv = root / label_folder / f"{subject}_{task}.csv"
            csv.parent.mkdir(parents=True, exist_ok=True)
            csv.write_text("\n".join(lines) + "\n")
        if archive is not None:
            archive.close()
    return expected


DISFA_CODED = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
AFFWILD2_2020_AUS = (1, 2, 4, 6, 12, 15, 20, 25)


def disfa_intensity(s: int, frame: int, au: int) -> int:
    return (s * 3 + frame * 2 + au) % 6


def make_disfa(
    root: Path,
    *,
    subjects: Sequence[str] = ("SN001", "SN002", "SN003"),
    frames: int = 4,
    image: ImageFn = tiny,
) -> Labels:
    """A DISFA tree: left and right videos and the twelve ``SNxxx_auN.txt`` per subject.
    Returns expected binary labels (intensity > 1) keyed by (subject, "LeftCamera", frame)."""
    expected: Labels = {}
    for s, subject in enumerate(subjects):
        video = [image(subject, f) for f in range(1, frames + 1)]
        write_video(root / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi", video)
        write_video(root / "Video_RightCamera" / f"RightVideo{subject}_Comp.avi", video)
        folder = root / "ActionUnit_Labels" / subject
        folder.mkdir(parents=True, exist_ok=True)
        for au in DISFA_CODED:
            lines = [f"{f},{disfa_intensity(s, f, au)}" for f in range(1, frames + 1)]
            (folder / f"{subject}_au{au}.txt").write_text("\n".join(lines) + "\n")
        for f in range(1, frames + 1):
            expected[subject, "LeftCamera", f] = tuple(
                int(disfa_intensity(s, f, au) > 1) for au in DATASET_AUS["disfa"]
            )
    return expected


def make_gft(
    root: Path,
    *,
    partitions: dict[str, str] | None = None,
    frames: Sequence[int] = (1, 2, 3),
    videos: bool = False,
    image: ImageFn = tiny,
    subject_names: bool = False,
) -> Labels:
    """A GFT tree in the layout of ``docs/datasets.md`` (frames or one video per subject);
    ``subject_names`` names frames ``001A_1.jpg`` (subject, underscore, frame)."""
    partitions = partitions or {"001A": "train", "001B": "train", "002A": "test"}
    aus = DATASET_AUS["gft"]
    (root / "partitions.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "partitions.csv").write_text(
        "subject,split\n" + "".join(f"{s},{p}\n" for s, p in partitions.items())
    )
    expected: Labels = {}
    for s, subject in enumerate(partitions):
        lines = ["Frame," + ",".join(map(str, aus))]
        for frame in frames:
            codes = [pattern(s, 0, frame, i) for i in range(len(aus))]
            lines.append(f"{frame}," + ",".join(str(9 if c == 2 else c) for c in codes))
            expected[subject, subject, frame] = tuple(-1 if c == 2 else c for c in codes)
            if not videos:
                name = f"{subject}_{frame}.jpg" if subject_names else f"{frame:06d}.jpg"
                write_image(root / "Frames" / subject / name, image(subject, frame))
        if videos:
            write_video(
                root / "Videos" / f"{subject}.avi",
                [image(subject, f) for f in range(1, max(frames) + 1)],
            )
        csv = root / "AUCoding" / "AU_OCC" / f"{subject}.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_text("\n".join(lines) + "\n")
    return expected


def make_affwild2(
    root: Path,
    *,
    train: Sequence[str] = ("1-30-1280x720", "video2"),
    validation: Sequence[str] = ("118-30-640x480_left",),
    frames: int = 4,
    missing_crop: int = 2,
    image: ImageFn = tiny,
    release: str = "abaw3",
) -> Labels:
    """Aff-Wild2 with ``cropped_aligned`` frames (frame ``missing_crop`` has no crop, and
    frame ``frames`` has every AU unknown) and the Third ABAW annotation files, or with
    ``release="2020"`` the 2020 release's (``annotations/annotations/AU_Set/Training_Set``,
    8 AUs)."""
    if release == "2020":
        aus = AFFWILD2_2020_AUS
        base = root / "annotations" / "annotations" / "AU_Set"
        sets = (("Training_Set", train), ("Validation_Set", validation))
    else:
        aus = DATASET_AUS["affwild2"]
        base = root / "Third ABAW Annotations" / "AU_Detection_Challenge"
        sets = (("Train_Set", train), ("Validation_Set", validation))
    expected: Labels = {}
    for folder, names in sets:
        for s, name in enumerate(names):
            lines = [",".join(f"AU{a}" for a in aus)]
            for frame in range(1, frames + 1):
                codes = [pattern(s, len(folder), frame, i) for i in range(len(aus))]
                if frame == frames:
                    codes = [2] * len(aus)
                lines.append(",".join("-1" if c == 2 else str(c) for c in codes))
                if frame != missing_crop:
                    write_image(
                        root / "cropped_aligned" / name / f"{frame:05d}.jpg", image(name, frame)
                    )
                    if frame != frames:
                        expected[name, name, frame] = tuple(-1 if c == 2 else c for c in codes)
            (base / folder).mkdir(parents=True, exist_ok=True)
            (base / folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return expected
