"""``d2ca prepare``: real MTCNN on astronaut frames, resume after an interruption, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from _datasets import blank_frame, face_frame, make_bp4d, make_disfa, write_video
from typer.testing import CliRunner

from d2ca.cli import app
from d2ca.data.manifest import read_manifest
from d2ca.data.prepare import FrameRecord, prepare, read_frames
from d2ca.data.readers import DatasetError


def faces_but_m011_frame_2(subject: str, frame: int) -> np.ndarray:
    return (
        blank_frame(subject, frame)
        if (subject, frame) == ("M011", 2)
        else face_frame(subject, frame)
    )


class Interrupt(Exception):
    pass


def interrupt_after(k: int):
    def on_frame(finished: int) -> None:
        if finished >= k:
            raise Interrupt

    return on_frame


def test_prepare_resumes_without_recomputing(tmp_path: Path) -> None:
    root, out = tmp_path / "BP4D", tmp_path / "prepared"
    # one subject of each published part; F007's frame 2 has no jpg, M011's no face
    expected = make_bp4d(root, subjects=("F001", "M011", "F007"), tasks=("T1",), frames=(1, 2),
                         image=faces_but_m011_frame_2, missing={("F007", "T1", 2)})  # fmt: skip
    with pytest.raises(Interrupt):
        prepare("bp4d", root, out, size=64, progress=False, on_frame=interrupt_after(3))
    first = {p: p.stat().st_mtime_ns for p in (out / "crops").rglob("*.jpg")}
    assert len(first) == 3  # F001 frames 1-2 and F007 frame 1; nothing else was started
    assert len((out / "progress.csv").read_text().splitlines()) == 3
    assert not (out / "manifest.csv").exists()

    result = CliRunner().invoke(
        app, ["prepare", "bp4d", str(root), "--out", str(out), "--size", "64"]
    )
    assert result.exit_code == 0, result.output
    summary = result.output.index("BP4D at")  # the --check summary comes first
    assert "without an image: 1" in result.output[summary:]
    assert "5 frames: 2 computed, 3 reused, 1 without a face" in result.output[summary:]
    assert "1 labelled frames without an image" in result.output
    for path, mtime in first.items():
        assert path.stat().st_mtime_ns == mtime  # not recomputed

    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest) == 4
    got = {
        (row["subject"], row["video"], int(row["frame"])): tuple(manifest.labels[i])
        for i, row in enumerate(manifest.rows)
    }
    del expected["M011", "T1", 2], expected["F007", "T1", 2]
    assert got == expected
    assert manifest.column("subject") == ["F001", "F001", "F007", "M011"]
    assert manifest.column("fold") == ["2", "2", "0", "1"]  # the published folds
    assert "split" not in manifest.rows[0]  # BP4D: every row, for cross-domain use
    fold1 = read_manifest(out / "manifest-fold1.csv")  # within-domain: test on fold 1
    assert fold1.column("split") == ["train", "train", "train", "test"]
    assert fold1.image_path(0) == manifest.image_path(0)
    folds = json.loads((out / "folds.json").read_text())
    assert folds["folds"] == {"F001": 2, "F007": 0, "M011": 1}
    assert "JAA-Net" in folds["source"]
    crop = cv2.imread(str(manifest.image_path(0)))
    assert crop.shape == (64, 64, 3)
    no_face = (out / "no_face.csv").read_text().splitlines()
    assert len(no_face) == 2 and no_face[1].endswith(",M011,T1,2")
    no_image = (out / "no_image.csv").read_text().splitlines()
    assert no_image[0] == "label_file,line,subject,video,frame,expected"
    assert len(no_image) == 2 and no_image[1].split(",")[1:5] == ["3", "F007", "T1", "2"]

    # a third run finds everything done
    again = prepare("bp4d", root, out, size=64, progress=False)
    assert (again.computed, again.reused, again.no_face, again.no_image) == (0, 5, 1, 1)


def test_prepare_videos_in_worker_processes(tmp_path: Path) -> None:
    root, out = tmp_path / "DISFA", tmp_path / "prepared"
    # SN003 is in published part 3 (fold 0: train), SN013 in part 2 (fold 1: val)
    expected = make_disfa(root, subjects=("SN003", "SN013"), frames=2, image=face_frame)
    summary = prepare("disfa", root, out, size=64, workers=2, progress=False)
    assert (summary.frames, summary.computed, summary.no_face) == (4, 4, 0)
    manifest = read_manifest(summary.manifest)
    assert manifest.au_names == ("AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26")
    got = {
        (row["subject"], row["video"], int(row["frame"])): tuple(manifest.labels[i])
        for i, row in enumerate(manifest.rows)
    }
    assert got == expected
    assert manifest.column("fold") == ["0", "0", "1", "1"]
    assert manifest.column("split") == ["train", "train", "val", "val"]  # DISFA: folds 0/1/2


def test_read_frames_reads_the_right_video_frames(tmp_path: Path) -> None:
    video = tmp_path / "v.avi"
    write_video(video, [np.full((32, 32, 3), 20 * i, np.uint8) for i in range(8)])
    records = [FrameRecord(video, i, "s", "v", i + 1, (0,), (1,)) for i in (3, 4, 6)]
    means = [round(float(frame.mean()) / 20) for _, frame in read_frames(records)]
    assert means == [3, 4, 6]
    with pytest.raises(DatasetError, match=r"v.avi: frame 9 \(label frame 10\) cannot be read"):
        list(read_frames([FrameRecord(video, 9, "s", "v", 10, (0,), (1,))]))


def test_unreadable_frame_stops_and_keeps_what_was_done(tmp_path: Path) -> None:
    root, out = tmp_path / "BP4D", tmp_path / "prepared"
    make_bp4d(root, subjects=("F001",), tasks=("T1",), frames=(1, 2), image=face_frame)
    bad = root / "BP4D-training" / "F001" / "T1" / "0002.jpg"
    good = bad.read_bytes()
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=r"0002.jpg: cannot read the image"):
        prepare("bp4d", root, out, size=64, progress=False)
    crop = out / "crops" / "F001" / "T1" / "000001.jpg"
    mtime = crop.stat().st_mtime_ns
    bad.write_bytes(good)
    summary = prepare("bp4d", root, out, size=64, progress=False)
    assert (summary.computed, summary.reused) == (1, 1) and crop.stat().st_mtime_ns == mtime


def test_output_folder_guards(tmp_path: Path) -> None:
    root = tmp_path / "BP4D"
    make_bp4d(root, subjects=("F001",), tasks=("T1",), frames=(1,), image=blank_frame)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    runner = CliRunner()
    result = runner.invoke(app, ["prepare", "bp4d", str(root), "--out", str(tmp_path / "other")])
    assert result.exit_code == 1
    assert "other: folder is not empty and was not made by d2ca prepare" in result.output
    out = tmp_path / "prep"
    with pytest.raises(DatasetError, match="no face found in any frame"):
        prepare("bp4d", root, out, size=64, progress=False)
    with pytest.raises(DatasetError, match="holds bp4d crops of size 64; use another --out"):
        prepare("bp4d", root, out, size=128, progress=False)
