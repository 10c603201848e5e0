"""The datasets as distributed: layout variants, frames without images, BP4D+ zips and frame
offsets, the published folds, and ``d2ca prepare --check``."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from _datasets import AFFWILD2_2020_AUS, make_affwild2, make_bp4d, make_disfa, make_gft
from typer.testing import CliRunner

from d2ca.cli import app
from d2ca.data.prepare import chunks, read_frames
from d2ca.data.readers import READERS, SCANNERS, DatasetError
from d2ca.data.survey import published_folds, survey


def as_labels(records):
    return {(r.subject, r.video, r.frame): r.labels for r in records}


def check(dataset: str, root: Path, *options: str) -> str:
    """``d2ca prepare DATASET ROOT --check``: must succeed; returns its output."""
    result = CliRunner().invoke(app, ["prepare", dataset, str(root), "--check", *options])
    assert result.exit_code == 0, result.output
    return result.output


def graded(_: str, frame: int) -> np.ndarray:
    """An 8 x 8 frame whose grey level says its frame number (20 per frame)."""
    return np.full((8, 8, 3), 20 * frame, np.uint8)


# --- BP4D ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame_folder,label_folder,distributed",
    [
        ("Sequences(2D+3D)", "AUCoding/AU_OCC", True),
        ("Sequences_2D+3D", "AUCoding", True),
        ("BP4D-training", "AUCoding", False),
    ],
)
def test_bp4d_distributed_layouts(
    tmp_path: Path, frame_folder: str, label_folder: str, distributed: bool
) -> None:
    expected = make_bp4d(
        tmp_path,
        frame_folder=frame_folder,
        label_folder=label_folder,
        distributed_header=distributed,
        occluded={2},
    )
    found = SCANNERS["bp4d"](tmp_path)
    assert as_labels(found.records) == expected  # the all-9 row (frame 99) is dropped
    assert found.records[0].source == tmp_path / frame_folder / "F001" / "T1" / "0001.jpg"
    occlusion = [n for n in found.notes if n.startswith("occlusion flag")]
    if distributed:  # frame 2 of 3 subjects x 2 tasks is flagged in column 99
        header = (tmp_path / label_folder / "F001_T1.csv").read_text().splitlines()[0]
        assert header == ",".join(map(str, range(100)))
        assert occlusion and " on 6 frames" in occlusion[0]
    else:
        assert not occlusion
    out = check("bp4d", tmp_path)
    assert "BP4D at" in out and "subjects: 3; tasks or videos: 6" in out
    assert "labelled frames: 18; with an image: 18; without an image: 0" in out
    assert f"labels: {tmp_path / label_folder}" in out


def test_bp4d_labelled_rows_without_a_jpg_are_skipped_and_reported(tmp_path: Path) -> None:
    expected = make_bp4d(tmp_path, missing={("F002", "T2", 3), ("M001", "T1", 1)})
    found = SCANNERS["bp4d"](tmp_path)
    del expected["F002", "T2", 3], expected["M001", "T1", 1]
    assert as_labels(found.records) == expected
    missing = [(m.label_file.name, m.line, m.subject, m.video, m.frame) for m in found.no_image]
    assert missing == [("F002_T2.csv", 4, "F002", "T2", 3), ("M001_T1.csv", 2, "M001", "T1", 1)]
    assert found.no_image[0].expected.endswith("F002/T2: image 3")
    out = check("bp4d", tmp_path)
    assert "labelled frames: 18; with an image: 16; without an image: 2" in out
    assert "first without an image: " in out and "F002_T2.csv line 4" in out


# --- BP4D+: zips, 3- or 4-digit names, frame offsets ------------------------------------


def make_bp4d_plus(root: Path) -> dict:
    """F001/T1: CSV frames 1..3 against 000.jpg..002.jpg; M001/T1: 0001.jpg..0003.jpg."""
    expected = {}
    for subject, image_offset, digits in (("F001", -1, 3), ("M001", 0, 4)):
        expected |= make_bp4d(root, subjects=(subject,), tasks=("T1",), frame_folder="2D+3D",
                              dataset="bp4d+", zipped=True, image_offset=image_offset,
                              digits=digits, image=graded)  # fmt: skip
    return expected


def test_bp4d_plus_zips_and_offsets_chosen_per_task(tmp_path: Path) -> None:
    expected = make_bp4d_plus(tmp_path)
    assert sorted(p.name for p in (tmp_path / "2D+3D").iterdir()) == ["F001.zip", "M001.zip"]
    found = SCANNERS["bp4d+"](tmp_path)
    assert as_labels(found.records) == expected and not found.no_image
    assert found.offsets == {
        "F001/T1": (-1, "lines up 3 of 3 labelled frames (offset 0: 2)"),
        "M001/T1": (0, "lines up 3 of 3 labelled frames (offset -1: 2)"),
    }
    first = found.records[0]
    assert (first.source.name, first.member, first.frame) == ("F001.zip", "F001/T1/000.jpg", 1)
    for task in ("F001", "M001"):  # decoded from the zip: CSV frame f shows frame f
        records = [r for r in found.records if r.subject == task]
        levels = [round(float(image.mean()) / 20) for _, image in read_frames(records)]
        assert levels == [r.frame for r in records] == [1, 2, 3]
    gone = replace(found.records[0], member="F001/T1/999.jpg")
    with pytest.raises(DatasetError, match=r"F001.zip/F001/T1/999.jpg: cannot read the image"):
        list(read_frames([gone]))
    groups = [[(r.subject, r.frame) for r in c] for c in chunks(found.records, 2)]
    assert groups == [[("F001", 1), ("F001", 2)], [("F001", 3)], [("M001", 1), ("M001", 2)],
                      [("M001", 3)]]  # fmt: skip
    out = check("bp4d+", tmp_path)
    assert "  -1: 1 tasks: F001/T1" in out and "  0: 1 tasks: M001/T1" in out
    assert "(zip per subject)" in out


def test_bp4d_plus_offset_override(tmp_path: Path) -> None:
    make_bp4d_plus(tmp_path)
    found = SCANNERS["bp4d+"](tmp_path, frame_offset="0")
    assert found.offsets == {"F001/T1": (0, "given"), "M001/T1": (0, "given")}
    # F001's CSV frame 1 now reads 001.jpg (its frame 2) and frame 3 has no image
    assert [(m.subject, m.frame) for m in found.no_image] == [("F001", 3)]
    out = check("bp4d+", tmp_path, "--frame-offset", "-1")
    assert "  -1: 2 tasks: F001/T1 M001/T1" in out and "without an image: 1" in out
    result = CliRunner().invoke(app, ["prepare", "bp4d+", str(tmp_path), "--check",
                                      "--frame-offset", "2"])  # fmt: skip
    assert result.exit_code == 1
    assert "error: frame offset must be auto, 0 or -1" in result.output


# --- DISFA, GFT, Aff-Wild2 --------------------------------------------------------------


def test_disfa_right_camera_folder_as_distributed(tmp_path: Path) -> None:
    expected = make_disfa(tmp_path)
    assert (tmp_path / "Video_RightCamera" / "RightVideoSN001_Comp.avi").is_file()
    right = READERS["disfa"](tmp_path, camera="right")
    assert {(s, f): v for (s, _, f), v in as_labels(right).items()} == {
        (s, f): v for (s, _, f), v in expected.items()
    }
    assert right[0].source.parent.name == "Video_RightCamera"
    out = check("disfa", tmp_path, "--camera", "right")
    assert "labelled frames: 12; with an image: 12" in out
    assert "fold 0 (1 subjects): SN003" in out and "fold 2 (2 subjects): SN001 SN002" in out


def test_gft_frames_named_subject_underscore_frame(tmp_path: Path) -> None:
    expected = make_gft(tmp_path, subject_names=True)
    records = READERS["gft"](tmp_path)
    assert as_labels(records) == expected
    assert records[0].source.name == "001A_1.jpg"
    out = check("gft", tmp_path)
    assert "split test: 1 subjects or videos, 3 frames" in out
    assert "split train: 2 subjects or videos, 6 frames" in out


def test_affwild2_2020_release_nested_annotations(tmp_path: Path) -> None:
    expected = make_affwild2(tmp_path, release="2020")
    found = SCANNERS["affwild2"](tmp_path)
    assert as_labels(found.records) == expected
    assert {r.aus for r in found.records} == {AFFWILD2_2020_AUS}
    assert {r.video: r.split for r in found.records} == {
        "1-30-1280x720": "train", "video2": "train", "118-30-640x480_left": "test"
    }  # fmt: skip
    assert [(m.subject, m.frame) for m in found.no_image] == [
        ("1-30-1280x720", 2), ("video2", 2), ("118-30-640x480_left", 2)
    ]  # fmt: skip
    out = check("affwild2", tmp_path)
    assert "release 2020 (8 AUs)" in out and "AU20 " in out and "AU26" not in out


def test_affwild2_videos_nested_in_batch_folders(tmp_path: Path) -> None:
    make_affwild2(tmp_path, train=("v1",), validation=("v2_left",))
    shutil.rmtree(tmp_path / "cropped_aligned")
    (tmp_path / "videos" / "batch1").mkdir(parents=True)
    for name in ("v1", "v2"):
        (tmp_path / "videos" / "batch1" / f"{name}.mp4").write_bytes(b"")
    records = READERS["affwild2"](tmp_path)
    assert {(r.source.name, r.face) for r in records} == {("v1.mp4", "largest"), ("v2.mp4", "left")}
    assert "release ABAW2/ABAW3 (12 AUs)" in check("affwild2", tmp_path)


# --- the published folds ----------------------------------------------------------------

BP4D_PARTS = (
    "F001 M007 F018 F008 F002 M004 F010 F009 M012 M001 F016 M014 F023 M008",
    "M011 F003 M010 M002 F005 F022 M018 M017 F013 M016 F020 F011 M013 M005",
    "F007 F015 F006 F019 M006 M009 F012 M003 F004 F021 F017 M015 F014",
)
DISFA_PARTS = (
    "SN002 SN010 SN001 SN026 SN027 SN032 SN030 SN009 SN016",
    "SN013 SN018 SN011 SN028 SN012 SN006 SN031 SN021 SN024",
    "SN003 SN029 SN023 SN025 SN008 SN005 SN007 SN017 SN004",
)


@pytest.mark.parametrize("dataset,parts", [("bp4d", BP4D_PARTS), ("disfa", DISFA_PARTS)])
def test_published_folds_reproduced_exactly(dataset: str, parts: tuple[str, ...]) -> None:
    folds, source = published_folds(dataset)
    assert "JAA-Net" in source and "ME-GraphAU" in source
    # d2ca fold k is their fold k + 1: fold 1 tests on part 3, fold 2 on part 2, fold 3 on 1
    tested_by = {0: parts[2], 1: parts[1], 2: parts[0]}
    for k, part in tested_by.items():
        assert sorted(s for s, f in folds.items() if f == k) == sorted(part.split())
    assert len(folds) == sum(len(p.split()) for p in parts)
    assert published_folds("bp4d+") is None and published_folds("gft") is None


def test_folds_default_override_and_unknown_subject(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001", "M011", "F007"), tasks=("T1",))
    assert survey("bp4d", tmp_path).fold_of == {"F001": 2, "F007": 0, "M011": 1}
    own = tmp_path / "folds.json"
    own.write_text(json.dumps({"folds": {"F001": 0, "M011": 0, "F007": 1}}))
    assert survey("bp4d", tmp_path, folds=own).fold_of == {"F001": 0, "F007": 1, "M011": 0}
    assert "fold 0 (2 subjects): F001 M011" in check("bp4d", tmp_path, "--folds", str(own))
    make_bp4d(tmp_path / "other", subjects=("F001", "F099"), tasks=("T1",))
    with pytest.raises(DatasetError, match="published folds .*no fold for subject.s. F099"):
        survey("bp4d", tmp_path / "other")


def test_bp4d_plus_folds_dealt_round_robin(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001", "F002", "M001"), tasks=("T1",),
              frame_folder="2D+3D", dataset="bp4d+")  # fmt: skip
    found = survey("bp4d+", tmp_path)
    assert found.fold_of == {"F001": 0, "F002": 1, "M001": 2}
    assert found.folds_from.startswith("sorted subjects dealt round-robin")


# --- --check on a tree that cannot be used ----------------------------------------------


def test_check_fails_in_one_line_naming_the_path(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001",), tasks=("T1",))
    shutil.rmtree(tmp_path / "AUCoding")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(app, ["prepare", "bp4d", str(tmp_path), "--check"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path}: no AUCoding/AU_OCC/")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    result = CliRunner().invoke(app, ["prepare", "bp4d", str(tmp_path)])
    assert result.exit_code == 1 and "--out DIR is required (or --check" in result.output
