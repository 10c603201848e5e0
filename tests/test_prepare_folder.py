"""``d2ca prepare folder``: real photographs, a video, a broken file, a frame with no face;
our labels and OpenFace's; resume after an interruption; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from _datasets import blank_frame, face_frame, write_image, write_video
from test_prepare import Interrupt, interrupt_after
from typer.testing import CliRunner

from d2ca.cli import app
from d2ca.data.manifest import read_manifest
from d2ca.data.prepare_folder import prepare_folder
from d2ca.data.readers import DatasetError
from d2ca.data.readers.folder import AUS, scan_folder

OWN_LABELS = """file,frame,AU06,AU12,AU12_r
photos/astronaut.png,,1,0,2.5
clips/talk.avi,2,0,1,
"""
# OpenFace FeatureExtraction output for clips/talk.avi (frames from 1, spaces after commas)
OPENFACE = """frame, face_id, timestamp, confidence, success, AU01_r, AU01_c, AU12_c, AU45_c
1, 0, 0.000, 0.98, 1, 1.2, 1.00, 0.00, 1.00
1, 1, 0.000, 0.90, 1, 0.0, 0.00, 1.00, 0.00
4, 0, 0.300, 0.00, 0, 0.0, 0.00, 0.00, 0.00
"""


def make_folder(root: Path) -> Path:
    """Two photos with a face, a wall without one, a 4-frame video and a broken video."""
    write_image(root / "photos" / "astronaut.png", skimage.data.astronaut())
    write_image(root / "photos" / "wall.png", blank_frame("", 0))
    write_image(root / "me.jpg", face_frame("", 3))
    write_video(root / "clips" / "talk.avi", [face_frame("", i) for i in range(4)])
    (root / "clips" / "broken.mp4").write_bytes(b"this is not a video")
    (root / ".thumbnails").mkdir()
    (root / ".thumbnails" / "x.jpg").write_bytes(b"hidden, never read")
    return root


def labels(tmp_path: Path, own: str = OWN_LABELS) -> list[Path]:
    (tmp_path / "labels.csv").write_text(own)
    (tmp_path / "talk.csv").write_text(OPENFACE)
    return [tmp_path / "labels.csv", tmp_path / "talk.csv"]


def test_scan_frames_subjects_labels_and_unreadable_files(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine")
    scan = scan_folder(root, every=3, labels=labels(tmp_path))
    assert scan.files == 5  # the hidden folder is skipped
    assert scan.unreadable == [
        ("clips/broken.mp4", "not a readable video (corrupt or unsupported)")
    ]
    got = {(r.video, r.index): (r.subject, r.split) for r in scan.records}
    assert got == {  # every 3rd frame (0, 3) plus the labelled frame 2
        ("clips/talk.avi", 0): ("clips/talk", "train"),
        ("clips/talk.avi", 2): ("clips/talk", "train"),
        ("clips/talk.avi", 3): ("clips/talk", "train"),
        ("me.jpg", None): ("mine", "train"),
        ("photos/astronaut.png", None): ("photos", "train"),
        ("photos/wall.png", None): ("photos", "train"),
    }
    values = {(r.video, r.index): dict(zip(r.aus, r.labels, strict=True)) for r in scan.records}
    assert values["photos/astronaut.png", None][6] == 1
    assert values["photos/astronaut.png", None][12] == 0
    assert values["clips/talk.avi", 2][12] == 1
    assert values["clips/talk.avi", 0][1] == 1 and values["clips/talk.avi", 0][12] == 0
    assert all(v == -1 for v in values["clips/talk.avi", 3].values())
    assert scan.labelled == 3 and scan.records[0].aus == AUS


def test_prepare_folder_resumes_then_relabels(tmp_path: Path) -> None:
    root, out = make_folder(tmp_path / "mine"), tmp_path / "prepared"
    kw = {"every": 3, "size": 64, "progress": False}
    with pytest.raises(Interrupt):
        prepare_folder(root, out, labels=labels(tmp_path), on_frame=interrupt_after(2), **kw)
    first = {p: p.stat().st_mtime_ns for p in (out / "crops").rglob("*.jpg")}
    assert len(first) == 2 and not (out / "manifest.csv").exists()

    args = ["prepare", "folder", str(root), "--out", str(out), "--size", "64", "--every", "3"]
    args += [x for p in labels(tmp_path) for x in ("--labels", str(p))]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "files: 5 (1 unreadable)" in result.output
    assert "unreadable: clips/broken.mp4: not a readable video" in result.output
    assert "frames: 6 (4 computed, 2 reused)" in result.output
    assert "faces: 5; frames without a face: 1" in result.output
    assert "subjects: 3" in result.output
    assert "labelled faces: 3 of 5; per AU: AU01 20%, AU06 40%, AU12 60%" in result.output
    for path, mtime in first.items():
        assert path.stat().st_mtime_ns == mtime  # not recomputed

    manifest = read_manifest(out)
    assert len(manifest) == 5 and set(manifest.column("split")) == {"train"}
    row = {(r["video"], r["frame"]): i for i, r in enumerate(manifest.rows)}
    au12 = manifest.au_names.index("AU12")
    assert manifest.labels[row["clips/talk.avi", "2"], au12] == 1
    assert manifest.labels[row["photos/astronaut.png", "0"], au12] == 0
    assert ("photos/wall.png", "0") not in row
    no_face = (out / "no_face.csv").read_text().splitlines()
    assert len(no_face) == 2 and "photos/wall.png" in no_face[1]
    assert (out / "unreadable.csv").read_text().splitlines()[1].startswith("clips/broken.mp4,")
    assert json.loads((out / "summary.json").read_text())["labelled"]["AU12"] == 0.6

    # without labels: frame 2 (kept only for its labels) goes, nothing is detected again,
    # and every label is unknown
    again = prepare_folder(root, out, **kw)
    assert (again.prepared.computed, again.prepared.reused, again.labelled_faces) == (0, 5, 0)
    assert len(read_manifest(out)) == 4 and (read_manifest(out).labels == -1).all()
    with pytest.raises(DatasetError, match="prepared holds crops of another folder"):
        prepare_folder(make_folder(tmp_path / "other"), out, **kw)


def test_subjects_from_a_csv(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine")
    table = tmp_path / "subjects.csv"
    rows = ["file,subject", "photos/astronaut.png,eileen", "me.jpg,eileen"]
    rows += ["photos/wall.png,nobody", "clips/talk.avi,eileen"]
    table.write_text("\n".join(rows) + "\n")  # broken.mp4 is unreadable: it needs no row
    scan = scan_folder(root, subjects=table)
    assert {r.video: r.subject for r in scan.records} == {
        "clips/talk.avi": "eileen",
        "me.jpg": "eileen",
        "photos/astronaut.png": "eileen",
        "photos/wall.png": "nobody",
    }
    table.write_text("\n".join(rows[:-1]) + "\n")
    with pytest.raises(DatasetError, match=r"subjects.csv: no subject for clips/talk.avi"):
        scan_folder(root, subjects=table)
    result = CliRunner().invoke(
        app, ["prepare", "bp4d", str(root), "-o", str(tmp_path / "p"), "--subjects", str(table)]
    )
    assert result.exit_code == 1
    assert "--every, --labels and --subjects are options of d2ca prepare folder" in result.output


@pytest.mark.parametrize(
    ("own", "message"),
    [
        ("file,AU12\nphotos/missing.png,1\n", "labels.csv: line 2: no file 'photos/missing.png'"),
        ("file,AU12,AU99\nme.jpg,1,0\n", "labels.csv: line 1: unknown AU column AU99"),
        ("file,frame,AU12\nclips/talk.avi,9,1\n", "line 2: clips/talk.avi has frames 0 to 3"),
        ("file,AU12\nme.jpg,2\n", "line 2: AU12 is '2', not one of 1, 0, -1"),
    ],
)
def test_bad_labels_are_one_line_errors(tmp_path: Path, own: str, message: str) -> None:
    root = make_folder(tmp_path / "mine")
    (tmp_path / "labels.csv").write_text(own)
    out = tmp_path / "prepared"
    args = ["prepare", "folder", str(root), "--out", str(out), "--labels"]
    result = CliRunner().invoke(app, [*args, str(tmp_path / "labels.csv")])
    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1
    assert not out.exists()  # refused before anything was written


def test_openface_csv_must_match_a_file(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine")
    (tmp_path / "other.csv").write_text(OPENFACE)
    result = CliRunner().invoke(
        app, ["prepare", "folder", str(root), "-o", str(tmp_path / "p"), "--labels",
              str(tmp_path / "other.csv")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "labels the file of the same name (other.*); the folder has no such file" in (
        result.output
    )


def test_folder_without_faces_or_readable_files(tmp_path: Path) -> None:
    walls = tmp_path / "walls"
    write_image(walls / "a.png", blank_frame("", 0))
    result = CliRunner().invoke(app, ["prepare", "folder", str(walls), "-o", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("error: ")
    assert "no face found in any frame" in result.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.jpg").write_bytes(np.zeros(10, np.uint8).tobytes())
    result = CliRunner().invoke(app, ["prepare", "folder", str(broken), "-o", str(tmp_path / "q")])
    assert result.exit_code == 1
    assert "none of the 1 files can be read (x.jpg: not a readable image" in result.output
    inside = CliRunner().invoke(app, ["prepare", "folder", str(walls), "-o", str(walls / "out")])
    assert inside.exit_code == 1 and "is inside" in inside.output
