"""Readers of the five dataset layouts, parsed exactly, and their bad-input messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from _datasets import make_affwild2, make_bp4d, make_disfa, make_gft, pattern

from d2ca.aus import DATASET_AUS, au_name, shared_aus
from d2ca.data.readers import READERS, DatasetError, reader_for, subject_folds
from d2ca.data.readers.base import read_folds


def as_labels(records):
    return {(r.subject, r.video, r.frame): r.labels for r in records}


@pytest.mark.parametrize("dataset,folder", [("bp4d", "BP4D-training"), ("bp4d+", "2D+3D")])
def test_bp4d_layouts_parse_exactly(tmp_path: Path, dataset: str, folder: str) -> None:
    expected = make_bp4d(tmp_path, frame_folder=folder, dataset=dataset)
    records = READERS[dataset](tmp_path)
    assert as_labels(records) == expected  # the all-9 row (frame 99) is dropped
    assert len(records) == 3 * 2 * 3
    r = records[0]
    assert (r.subject, r.video, r.frame, r.index, r.split) == ("F001", "T1", 1, None, None)
    assert r.source == tmp_path / folder / "F001" / "T1" / "0001.jpg"
    assert r.aus == DATASET_AUS[dataset]
    # F001 is subject 0, T1 task 0, frame 1; coded AUs are 1, 2, 3, 4, 6, 7, ... (AU 3 unused)
    assert r.labels[:4] == (0, 1, 0, 1)  # AU1, AU2, AU4, AU6 = pattern 3, 4, 6, 7 mod 3
    # AU7: pattern 8 mod 3 = 2, written as 9, read as unknown
    assert r.labels[4] == -1 and pattern(0, 0, 1, 5) == 2


def test_bp4d_tolerates_name_case(tmp_path: Path) -> None:
    expected = make_bp4d(tmp_path, subjects=("F001",), tasks=("T1",))
    (tmp_path / "AUCoding").rename(tmp_path / "aucoding")
    (tmp_path / "BP4D-training").rename(tmp_path / "bp4d-TRAINING")
    assert as_labels(READERS["bp4d"](tmp_path)) == expected


def test_disfa_parses_intensities_and_video_indices(tmp_path: Path) -> None:
    expected = make_disfa(tmp_path)
    records = READERS["disfa"](tmp_path)
    assert as_labels(records) == expected
    r = records[0]
    assert r.source.name == "LeftVideoSN001_comp.avi" and (r.index, r.frame) == (0, 1)
    # SN001 frame 1 AU1: intensity (0 + 2 + 1) % 6 = 3 > 1 -> 1; AU2: 4 -> 1; AU4: (2+4)%6 = 0
    assert r.labels[:3] == (1, 1, 0)
    right = reader_for("disfa")(tmp_path, camera="right")
    assert right[0].source.name == "RightVideoSN001_Comp.avi" and right[0].video == "RightCamera"


@pytest.mark.parametrize("videos", [False, True])
def test_gft_reads_official_partitions(tmp_path: Path, videos: bool) -> None:
    expected = make_gft(tmp_path, videos=videos)
    records = READERS["gft"](tmp_path)
    assert as_labels(records) == expected
    assert {r.subject: r.split for r in records} == {
        "001A": "train",
        "001B": "train",
        "002A": "test",
    }
    assert (records[0].index is not None) == videos
    if videos:
        assert records[1].index == 1 and records[1].source.name == "001A.avi"


def test_affwild2_skips_missing_crops_and_unknown_rows(tmp_path: Path) -> None:
    expected = make_affwild2(tmp_path)
    records = READERS["affwild2"](tmp_path)
    assert as_labels(records) == expected
    assert {(r.video, r.frame) for r in records if r.video == "video2"} == {
        ("video2", 1),
        ("video2", 3),
    }
    splits = {r.video: r.split for r in records}
    assert splits == {"1-30-1280x720": "train", "video2": "train", "118-30-640x480_left": "test"}
    assert records[0].source.name == "00001.jpg"


def test_affwild2_videos_pick_the_named_face(tmp_path: Path) -> None:
    make_affwild2(tmp_path, train=("v1",), validation=("v2_left",))
    import shutil

    shutil.rmtree(tmp_path / "cropped_aligned")
    (tmp_path / "batch1").mkdir()
    for name in ("v1", "v2"):
        (tmp_path / "batch1" / f"{name}.mp4").write_bytes(b"")
    records = READERS["affwild2"](tmp_path)
    # without crops every labelled frame counts (frames 1-3; frame 4 is all unknown)
    assert [(r.video, r.index, r.face) for r in records if r.video == "v2_left"] == [
        ("v2_left", 0, "left"),
        ("v2_left", 1, "left"),
        ("v2_left", 2, "left"),
    ]
    assert records[0].source.name == "v1.mp4" and records[0].face == "largest"


def test_subject_folds_are_sorted_round_robin_and_deterministic() -> None:
    ids = [f"F{i:03d}" for i in range(1, 24)] + [f"M{i:03d}" for i in range(1, 19)]
    folds = subject_folds(reversed(ids))
    assert folds == subject_folds(ids)
    assert [folds[s] for s in ("F001", "F002", "F003", "F004")] == [0, 1, 2, 0]
    counts = [list(folds.values()).count(k) for k in range(3)]
    assert counts == [14, 14, 13]  # BP4D's 41 subjects


def test_read_folds_rejects_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "folds.json"
    path.write_text('{"folds": {"F001": 0, "F002": 2}}')
    assert read_folds(path) == {"F001": 0, "F002": 2}
    path.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="folds.json: not a folds file"):
        read_folds(path)


@pytest.mark.parametrize(
    "pair,aus",
    [
        (("bp4d", "disfa"), (1, 2, 4, 6, 12)),
        (("bp4d+", "disfa"), (1, 2, 4, 6, 12)),
        (("bp4d", "gft"), (1, 2, 4, 6, 10, 12, 14, 15, 23, 24)),
        (("gft", "bp4d+"), (1, 2, 4, 6, 10, 12, 14, 15, 23, 24)),
        (("affwild2", "bp4d"), (1, 2, 4, 6, 7, 10, 12, 15, 23, 24)),
        (("bp4d+", "affwild2"), (1, 2, 4, 6, 7, 10, 12, 15, 23, 24)),
        (("affwild2", "gft"), (1, 2, 4, 6, 10, 12, 15, 23, 24)),
    ],
)
def test_shared_aus_of_every_paper_pair(pair: tuple[str, str], aus: tuple[int, ...]) -> None:
    assert shared_aus(*pair) == aus == shared_aus(*reversed(pair))
    for dataset in pair:  # every shared AU is one the reader labels
        assert set(aus) <= set(DATASET_AUS[dataset])
    assert au_name(aus[0]) == "AU01"


# --- bad input: the message names the file and the line -------------------------------


def test_bp4d_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001",), tasks=("T1",))
    csv = tmp_path / "AUCoding" / "AU_OCC" / "F001_T1.csv"
    lines = csv.read_text().splitlines()
    lines[2] = lines[2] + ",0"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"F001_T1.csv: line 3: 15 columns, the header has 14"):
        READERS["bp4d"](tmp_path)


def test_bp4d_bad_value_and_missing_au_column(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001",), tasks=("T1",))
    csv = tmp_path / "AUCoding" / "AU_OCC" / "F001_T1.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], lines[1][:-1] + "7", *lines[2:]]) + "\n")
    with pytest.raises(DatasetError, match=r"F001_T1.csv: line 2: AU24 value 7"):
        READERS["bp4d"](tmp_path)
    csv.write_text("Frame,1,2\n1,0,0\n")
    with pytest.raises(DatasetError, match=r"F001_T1.csv: line 1: no column for AU 4, 6"):
        READERS["bp4d"](tmp_path)


def test_bp4d_unlabelled_subject(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001", "F002"), tasks=("T1",))
    (tmp_path / "AUCoding" / "AU_OCC" / "F002_T1.csv").unlink()
    with pytest.raises(DatasetError, match=r"F002: subject F002 has no labelled frames"):
        READERS["bp4d"](tmp_path)


def test_bp4d_file_without_labelled_frames(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001",), tasks=("T1",))
    csv = tmp_path / "AUCoding" / "AU_OCC" / "F001_T1.csv"
    header = csv.read_text().splitlines()[0]
    csv.write_text(header + "\n1," + ",".join("9" for _ in header.split(",")[1:]) + "\n")
    with pytest.raises(DatasetError, match=r"F001_T1.csv: no labelled frames"):
        READERS["bp4d"](tmp_path)


def test_bp4d_misnamed_folders(tmp_path: Path) -> None:
    make_bp4d(tmp_path, subjects=("F001",), tasks=("T1",))
    (tmp_path / "BP4D-training" / "F001" / "T1").rename(
        tmp_path / "BP4D-training" / "F001" / "Task1"
    )
    with pytest.raises(DatasetError, match=r"F001: no folder named 'T1'"):
        READERS["bp4d"](tmp_path)
    (tmp_path / "AUCoding").rename(tmp_path / "labels")
    with pytest.raises(DatasetError, match=r"no AUCoding/AU_OCC/ \(or AU_OCC/, AUCoding/\)"):
        READERS["bp4d"](tmp_path)
    with pytest.raises(DatasetError, match=r"nowhere: no such dataset folder"):
        READERS["bp4d"](tmp_path / "nowhere")


def test_disfa_bad_files_name_file_and_line(tmp_path: Path) -> None:
    make_disfa(tmp_path, subjects=("SN001",))
    au2 = tmp_path / "ActionUnit_Labels" / "SN001" / "SN001_au2.txt"
    au2.write_text("1,0\n2,0,3\n")
    with pytest.raises(DatasetError, match=r"SN001_au2.txt: line 2: 3 columns"):
        READERS["disfa"](tmp_path)
    au2.write_text("1,0\n2,7\n")
    with pytest.raises(DatasetError, match=r"SN001_au2.txt: line 2: intensity 7 is outside 0-5"):
        READERS["disfa"](tmp_path)
    au2.write_text("1,0\n2,1\n")
    with pytest.raises(DatasetError, match=r"SN001_au2.txt: frame 3 is in one of"):
        READERS["disfa"](tmp_path)
    au2.unlink()
    with pytest.raises(DatasetError, match=r"SN001: no label file named 'SN001_au2.txt'"):
        READERS["disfa"](tmp_path)
    (tmp_path / "Videos_LeftCamera" / "LeftVideoSN001_comp.avi").unlink()
    with pytest.raises(DatasetError, match=r"Videos_LeftCamera: no video LeftVideoSN001_comp.avi"):
        READERS["disfa"](tmp_path)


def test_gft_partition_problems(tmp_path: Path) -> None:
    make_gft(tmp_path)
    (tmp_path / "partitions.csv").write_text("subject,split\n001A,train\n001B,holdout\n")
    with pytest.raises(DatasetError, match=r"partitions.csv: line 3: expected SUBJECT,train\|test"):
        READERS["gft"](tmp_path)
    (tmp_path / "partitions.csv").write_text("subject,split\n001A,train\n001B,test\n")
    with pytest.raises(DatasetError, match=r"002A.csv: subject 002A is in no partition"):
        READERS["gft"](tmp_path)
    (tmp_path / "partitions.csv").unlink()
    with pytest.raises(DatasetError, match=r"partitions.csv: no partitions file"):
        READERS["gft"](tmp_path)


def test_affwild2_bad_annotation_file(tmp_path: Path) -> None:
    make_affwild2(tmp_path)
    path = tmp_path / "Third ABAW Annotations/AU_Detection_Challenge/Train_Set/video2.txt"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"video2.txt: line 4: 11 columns, the header has 12"):
        READERS["affwild2"](tmp_path)
    path.write_text("AU1,AU2,AU4\n")
    with pytest.raises(DatasetError, match=r"video2.txt: line 1: header 'AU1,AU2,AU4' is neither"):
        READERS["affwild2"](tmp_path)


def test_unknown_dataset_name() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'ck'"):
        reader_for("ck")
    assert reader_for("Aff-Wild2") is READERS["affwild2"]
