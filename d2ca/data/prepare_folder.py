"""``d2ca prepare folder``: any folder of images and videos to aligned crops and a manifest.

The frames come from :func:`d2ca.data.readers.folder.scan_folder` (subjects, labels,
unreadable files); detection, alignment, resume and the manifest are those of
:func:`d2ca.data.prepare.prepare`. The output folder holds what ``prepare`` writes plus

    unreadable.csv   files that could not be decoded (``file,reason``)
    summary.json     the numbers of the summary: files, frames, faces, subjects, labels

Every row of the manifest has split ``train``: the folder is adaptation data, and nothing
of it is held out (labelled frames are scored by the adaptation report instead).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from d2ca.data.manifest import read_manifest
from d2ca.data.prepare import PrepareSummary, crop_path, prepare
from d2ca.data.readers.base import DatasetError
from d2ca.data.readers.folder import scan_folder
from d2ca.io import atomic_path


@dataclass(frozen=True)
class FolderSummary:
    """What :func:`prepare_folder` did.

    Attributes:
        prepared: the summary of the detection run (frames, computed, reused, no face).
        files: image and video files found.
        unreadable: ``(file, reason)`` of the files that could not be decoded.
        faces: manifest rows (frames with a face).
        subjects: distinct subjects among the faces.
        labelled_faces: faces with at least one AU label.
        labelled: AU -> share of the faces labelled for it (AUs with any label only).
    """

    prepared: PrepareSummary
    files: int
    unreadable: list[tuple[str, str]]
    faces: int
    subjects: int
    labelled_faces: int
    labelled: dict[str, float]

    def lines(self) -> list[str]:
        """The summary as the CLI prints it."""
        p = self.prepared
        lines = [f"files: {self.files} ({len(self.unreadable)} unreadable)"]
        lines += [f"  unreadable: {file}: {reason}" for file, reason in self.unreadable]
        lines += [
            f"frames: {p.frames} ({p.computed} computed, {p.reused} reused)",
            f"faces: {self.faces}; frames without a face: {p.no_face} "
            f"(listed in {p.out / 'no_face.csv'})",
            f"subjects: {self.subjects}",
        ]
        if self.labelled:
            shares = ", ".join(f"{au} {100 * v:.0f}%" for au, v in self.labelled.items())
            lines.append(f"labelled faces: {self.labelled_faces} of {self.faces}; per AU: {shares}")
        else:
            lines.append("labelled faces: none")
        lines.append(f"wrote {p.manifest}")
        return lines


def prepare_folder(
    root: str | Path,
    out: str | Path,
    *,
    every: int = 1,
    labels: Sequence[str | Path] = (),
    subjects: str | Path | None = None,
    size: int = 128,
    workers: int = 1,
    device: str = "cpu",
    min_face_size: int = 40,
    max_side: int | None = 640,
    progress: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> FolderSummary:
    """Detect, align and cache the faces of every image and video under ``root``.

    Args:
        root: any folder (searched recursively).
        out: output folder (created; a rerun on the same folder resumes).
        every: keep every ``every``-th video frame (labelled frames are always kept).
        labels: label CSVs, ours or OpenFace's (see :mod:`d2ca.data.readers.folder`).
        subjects: a ``file,subject`` CSV; default one pseudo subject per video or folder.
        size, workers, device, min_face_size, max_side, progress, on_frame: as for
            :func:`d2ca.data.prepare.prepare`.

    Returns:
        A :class:`FolderSummary`.

    Raises:
        DatasetError: bad labels or subjects, no readable file, no face at all, or
            ``out`` inside ``root``.

    Example:
        >>> s = prepare_folder("my_videos", "prepared/mine", every=5)  # doctest: +SKIP
        >>> print("\\n".join(s.lines()))  # doctest: +SKIP
    """
    root, out = Path(root), Path(out)
    if out.resolve().is_relative_to(root.resolve()):
        raise DatasetError(f"{out} is inside {root}: choose an --out outside the folder")
    meta = out / "prepare.json"  # crops are named after files: never mix two folders
    if meta.is_file() and json.loads(meta.read_text()).get("root") != str(root.resolve()):
        raise DatasetError(f"{out} holds crops of another folder; use another --out")
    scan = scan_folder(root, every=every, labels=labels, subjects=subjects)
    if not scan.records:
        file, reason = scan.unreadable[0]
        raise DatasetError(f"{root}: none of the {scan.files} files can be read ({file}: {reason})")
    seen: dict[str, str] = {}
    for r in scan.records:  # crop paths replace odd characters: two names could meet
        first = seen.setdefault(crop_path(r), r.video)
        if first != r.video:
            raise DatasetError(f"{root}: {first!r} and {r.video!r} would share crops; rename one")
    prepared = prepare(
        "folder", root, out, size=size, workers=workers, device=device,
        min_face_size=min_face_size, max_side=max_side, progress=progress, on_frame=on_frame,
        records=scan.records,
    )  # fmt: skip
    manifest = read_manifest(prepared.manifest)
    known = manifest.labels >= 0
    summary = FolderSummary(
        prepared,
        scan.files,
        scan.unreadable,
        len(manifest),
        len(set(manifest.subjects)),
        int(known.any(axis=1).sum()),
        {
            a: float(share)
            for a, share in zip(manifest.au_names, known.mean(0), strict=True)
            if share
        },
    )
    with atomic_path(out / "unreadable.csv", overwrite=True) as tmp:
        with tmp.open("w", newline="") as f:
            csv.writer(f).writerows([("file", "reason"), *scan.unreadable])
    with atomic_path(out / "summary.json", overwrite=True) as tmp:
        numbers = {k: v for k, v in asdict(summary).items() if k != "prepared"}
        numbers.update(frames=prepared.frames, no_face=prepared.no_face)
        tmp.write_text(json.dumps(numbers, indent=2) + "\n")
    return summary
