"""``d2ca detect | swap | interpolate | info`` end to end in a temporary folder."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from _inference import BLANK_FRAMES, save_small_checkpoint, write_astronaut_video
from PIL import Image
from typer.testing import CliRunner

from d2ca.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    image = skimage.data.astronaut()
    paths = {
        "model": save_small_checkpoint(root / "ckpt"),
        "face": root / "face.png",
        "mirror": root / "mirror.jpg",
        "blank": root / "blank.png",
        "video": write_astronaut_video(root / "clip.mp4"),
        "truncated": root / "cut.jpg",
        "text": root / "notes.jpg",
        "empty_video": root / "empty.mp4",
        "corrupt_video": root / "corrupt.avi",
        "existing": root / "existing.csv",
    }
    Image.fromarray(image).save(paths["face"])
    Image.fromarray(np.ascontiguousarray(image[:, ::-1])).save(paths["mirror"])
    Image.fromarray(np.zeros((120, 160, 3), np.uint8)).save(paths["blank"])
    Image.fromarray(image).save(paths["truncated"])
    paths["truncated"].write_bytes(paths["truncated"].read_bytes()[:3000])
    paths["text"].write_text("hello, not a picture\n")
    paths["empty_video"].touch()
    paths["corrupt_video"].write_bytes(b"RIFF" + bytes(range(256)) * 4)
    paths["existing"].write_text("keep me\n")
    return paths


def invoke(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args])


def test_detect_writes_csv_to_stdout_and_files(files, tmp_path) -> None:
    result = invoke("detect", files["face"], files["blank"], "--model", files["model"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["success"] for r in rows] == ["1", "0"]
    assert 0.0 <= float(rows[0]["AU12"]) <= 1.0 and rows[0]["AU12_c"] in ("0", "1")
    out = tmp_path / "aus.json"
    args = ("detect", files["video"], "-o", out, "--format", "json", "--every", "2")
    result = invoke(*args, "--model", files["model"], "--threshold", "0.3")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    records = json.loads(out.read_text())
    assert [r["frame"] for r in records] == [0, 2, 4, 6, 8, 10]
    assert [r["success"] for r in records] == [int(f not in BLANK_FRAMES) for f in range(0, 12, 2)]
    ok = [r for r in records if r["success"]]
    assert all(r["AU01_c"] == int(r["AU01"] >= 0.3) for r in ok)


def test_detect_plot_and_annotate(files, tmp_path) -> None:
    plot, video = tmp_path / "au.png", tmp_path / "annotated.mp4"
    args = ("detect", files["video"], "-o", tmp_path / "t.csv", "--plot", plot, "--annotate", video)
    result = invoke(*args, "--model", files["model"], "--every", "3")
    assert result.exit_code == 0, result.output
    assert Image.open(plot).size[0] > 100
    capture = cv2.VideoCapture(str(video))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 12  # every frame, boxes held between samples
    ok, first = capture.read()
    capture.release()
    assert ok and first.shape == (240, 320, 3)
    assert (np.abs(first.astype(int) - [0, 255, 0]).sum(axis=2) < 60).sum() > 100  # green box


def test_swap_interpolate_info(files, tmp_path) -> None:
    out = tmp_path / "swapped.png"
    result = invoke("swap", files["face"], files["mirror"], "-o", out, "--model", files["model"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (512, 512)
    crop = tmp_path / "crop.png"
    args = ("swap", files["face"], files["mirror"], "-o", crop, "--crop-only")
    assert invoke(*args, "--model", files["model"]).exit_code == 0
    assert Image.open(crop).size == (64, 64)
    strip = tmp_path / "strip.png"
    args = ("interpolate", files["face"], files["mirror"], files["face"], "--steps", 5, "-o", strip)
    result = invoke(*args, "--model", files["model"])
    assert result.exit_code == 0, result.output
    assert Image.open(strip).size == (5 * 64, 64)
    result = invoke("info", files["model"])
    assert result.exit_code == 0, result.output
    assert "AU01 AU02 AU04" in result.stdout and "multiply-adds" in result.stdout
    summary = json.loads(invoke("info", files["model"], "--json").stdout)
    assert summary["image_size"] == 64 and summary["encoder"]["params"] > 0


BAD_INPUTS = [
    # (arguments, expected fragment, exit code)
    (("detect", "{missing}"), "no such file", 1),
    (("detect", "{truncated}"), "unreadable image", 1),
    (("detect", "{text}"), "not an image or video", 1),
    (("detect", "{empty_video}"), "empty video", 1),
    (("detect", "{corrupt_video}"), "not a readable video", 1),
    (("detect", "{face}", "--every", "0"), "Invalid value for '--every'", 2),
    (("detect", "{face}", "--batch-size", "0"), "Invalid value for '--batch-size'", 2),
    (("detect", "{face}", "--threshold", "1.5"), "between 0 and 1", 1),
    (("detect", "{face}", "--format", "xml"), "csv or json", 1),
    (("detect", "{face}", "-o", "{existing}"), "exists (pass --overwrite", 1),
    (("detect", "{face}", "--plot", "{tmp}/p.png"), "needs exactly one video", 1),
    (("swap", "{face}", "{blank}", "-o", "{tmp}/s.png"), "no face found", 1),
    (("swap", "{face}", "{mirror}", "-o", "{face}", "--overwrite"), "one of the inputs", 1),
    (("swap", "{face}", "{mirror}", "-o", "{existing}"), "exists", 1),
    (("swap", "{face}", "{mirror}", "-o", "{tmp}/s.png", "--domain", "x"), "'source' or", 1),
    (("swap", "{video}", "{mirror}", "-o", "{tmp}/s.png"), "expected an image", 1),
    (
        ("interpolate", "{face}", "{face}", "{face}", "-o", "{tmp}/i.png", "--steps", "1"),
        "--steps",
        2,
    ),
    (("detect", "{face}", "--model", "{tmp}/no-such-ckpt"), "no such checkpoint folder", 1),
]


@pytest.mark.parametrize(("args", "fragment", "code"), BAD_INPUTS, ids=lambda v: str(v)[:40])
def test_bad_input_gives_one_line_and_exit_code(files, tmp_path, args, fragment, code) -> None:
    names = {k: str(v) for k, v in files.items()} | {
        "missing": str(tmp_path / "missing.png"),
        "tmp": str(tmp_path),
    }
    args = [a.format(**names) for a in args]
    if "--model" not in args:
        args += ["--model", names["model"]]
    before = {p: p.read_bytes() for p in files.values() if p.is_file()}
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert fragment in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # exited on purpose, no uncaught error
    if code == 1:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert {p: p.read_bytes() for p in before} == before  # nothing the user gave changed
    assert not list(tmp_path.glob("*.png"))  # no output left behind


def test_image_over_the_decompression_bomb_limit(files, monkeypatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    result = invoke("detect", files["face"], "--model", files["model"])
    assert result.exit_code == 1
    assert "too large to decode safely" in result.stderr


def test_the_console_script_keeps_ffmpeg_quiet_on_a_broken_video(tmp_path) -> None:
    """FFmpeg's own complaint ("moov atom not found") does not precede d2ca's one line."""
    broken = tmp_path / "cut-short.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))  # as make_demo_footage.py
    d2ca = Path(sys.executable).with_name("d2ca")
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    run = subprocess.run([d2ca, "detect", broken], capture_output=True, text=True, env=env)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"error: {broken}: not a readable video (corrupt or unsupported)"
    ]
