"""Corpus runs: listing and shards, broken inputs, kill-and-resume, workers, missing devices."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from _inference import save_small_checkpoint, small_model, write_astronaut_video
from PIL import Image
from typer.testing import CliRunner

import d2ca
from d2ca.cli import app
from d2ca.errors import InputError
from d2ca.inference.corpus import detect_corpus, list_inputs, output_path, shard
from d2ca.inference.pipeline import D2CA

runner = CliRunner()
ROOT = Path(d2ca.__file__).resolve().parent.parent


def test_listing_mirrors_relative_paths_and_shards_cover_each_input_once(tmp_path) -> None:
    for name in ("a/x.mp4", "a/b/y.png", "c/z.jpg", "c/notes.txt", "top.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    folder = list_inputs([tmp_path])
    assert [str(i.relative) for i in folder] == ["a/b/y.png", "a/x.mp4", "c/z.jpg", "top.png"]
    pattern = list_inputs([f"{tmp_path}/**/*.mp4", f"{tmp_path}/c/*.jpg"])
    assert [str(i.relative) for i in pattern] == ["a/x.mp4", "z.jpg"]  # below c/
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"# corpus\na/x.mp4\n\n{tmp_path / 'a/b/y.png'}\na/missing.mp4\n")
    listed = list_inputs(input_list=listing)
    assert [str(i.relative) for i in listed] == ["b/y.png", "missing.mp4", "x.mp4"]
    assert output_path("out", listed[0], "json") == Path("out/b/y.png.json")
    with pytest.raises(InputError, match="would both write"):
        list_inputs([tmp_path / "a/x.mp4", tmp_path / "b" / "x.mp4"])
    names = [f"v{i:02d}" for i in range(23)]
    for count in (1, 2, 3, 7, 30):
        parts = [shard(names, index, count) for index in range(1, count + 1)]
        assert sorted(sum(parts, [])) == names  # every input, exactly once
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert shard(names, 2, 3) == shard(list(names), 2, 3)  # deterministic
    for bad in ((0, 3), (4, 3), (1, 0)):
        with pytest.raises(InputError, match="I/N"):
            shard(names, *bad)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four short videos in two folders and two photographs."""
    root = tmp_path_factory.mktemp("corpus")
    for i in range(4):
        folder = root / f"s{i % 2}"
        folder.mkdir(exist_ok=True)
        write_astronaut_video(folder / f"clip{i}.mp4", frames=6)
    image = skimage.data.astronaut()
    Image.fromarray(image).save(root / "s0" / "photo.png")
    Image.fromarray(np.ascontiguousarray(image[:, ::-1])).save(root / "mirror.jpg")
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_small_checkpoint(tmp_path_factory.mktemp("ckpt") / "model")


def tables(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.*"))}


def finished(out: Path) -> list[Path]:
    """The tables written in full: not the hidden temporary of a table being written."""
    return [p for p in out.rglob("*.csv") if not p.name.startswith(".")]


def test_kill_and_resume_writes_only_what_is_missing(corpus, checkpoint, tmp_path) -> None:
    args = ["detect", str(corpus), "--model", str(checkpoint), "--threads", "1", "--per-frame"]
    reference = tmp_path / "reference"
    result = runner.invoke(app, [*args, "--out-dir", str(reference)])
    assert result.exit_code == 0, result.output
    assert len(tables(reference)) == 6
    # the same run in a separate process, killed outright once its first table is written
    out = tmp_path / "killed"
    command = [sys.executable, "-c", "from d2ca.cli import main; main()", *args]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = os.environ | {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([*command, "--out-dir", str(out)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not finished(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {p: p.stat().st_mtime_ns for p in finished(out)}
    assert 1 <= len(before) < 6, "the run was not interrupted half-way"
    # what a kill during a write leaves behind: a hidden temporary beside a missing table
    missing = next(p for p in tables(reference) if not (out / p).exists())
    (out / missing).parent.mkdir(parents=True, exist_ok=True)
    leftover = (out / missing).with_name(f".{Path(missing).name}.k1ll3d00.csv")
    leftover.write_text("input,fra")
    result = runner.invoke(app, [*args, "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{6 - len(before)} written, {len(before)} skipped" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in before} == before  # finished tables untouched
    assert tables(out) == tables(reference)  # and no leftover: the same files, byte for byte


def test_broken_inputs_are_summarised_and_the_run_goes_on(corpus, checkpoint, tmp_path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "empty.mp4").touch()
    (broken / "noise.avi").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    Image.fromarray(skimage.data.astronaut()).save(broken / "cut.jpg")
    (broken / "cut.jpg").write_bytes((broken / "cut.jpg").read_bytes()[:3000])
    listing = tmp_path / "list.txt"
    listing.write_text(f"{corpus / 'mirror.jpg'}\n{tmp_path / 'gone.png'}\n")
    before = tables(broken)
    out = tmp_path / "out"
    args = ["detect", str(broken), "--input-list", str(listing), "--out-dir", str(out)]
    result = runner.invoke(app, [*args, "--model", str(checkpoint), "--format", "json"])
    assert result.exit_code == 1
    assert "5 inputs (shard 1/1 of 5): 1 written, 0 skipped (table exists), 4 failed" in (
        result.stderr
    )
    reasons = {
        "empty.mp4": "empty video file",
        "noise.avi": "not a readable video",
        "cut.jpg": "unreadable image",
        "gone.png": "no such file",
    }
    lines = result.stderr.splitlines()
    assert lines[1].split() == ["path", "reason"]
    for name, reason in reasons.items():
        assert any(line.split()[0].endswith(name) and reason in line for line in lines[2:])
    assert sorted(tables(out)) == [f"{corpus.name}/mirror.jpg.json"]  # below the shared folder
    assert tables(broken) == before  # nothing the user gave changed


def test_api_shards_and_workers_give_the_tables_of_one_run(corpus, tmp_path) -> None:
    model = D2CA(small_model())
    photos = [corpus / "mirror.jpg", corpus / "s0" / "photo.png", corpus / "s1" / "clip1.mp4"]
    inputs = [i for i in list_inputs([corpus]) if i.path in photos]
    one = list(detect_corpus(model, inputs, tmp_path / "one", threads=1))
    assert [item.status for item in one] == ["written"] * 3
    assert [item.frames for item in one] == [1, 1, 6]
    for index in (1, 2):  # two shards: together, the tables of the single run
        done = detect_corpus(model, inputs, tmp_path / "split", shard_of=(index, 2))
        assert {item.status for item in done} == {"written"}
    assert tables(tmp_path / "split") == tables(tmp_path / "one")
    two = list(detect_corpus(model, inputs, tmp_path / "two", workers=2, threads=1))
    assert sorted(item.frames for item in two) == [1, 1, 6]  # two processes: the same tables
    assert tables(tmp_path / "two") == tables(tmp_path / "one")
    again = list(detect_corpus(model, inputs, tmp_path / "one", fmt="csv"))
    assert {item.status for item in again} == {"skipped"}


@pytest.mark.parametrize("device", ["cuda:99", "cuda", "gpu"])
def test_a_device_this_machine_lacks_is_one_line_and_exit_code_2(device, checkpoint) -> None:
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU: 'cuda' exists (cuda:99 is checked instead)")
    image = ROOT / "examples" / "face.png"
    result = runner.invoke(app, ["detect", str(image), "--device", device, "-m", str(checkpoint)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert device in result.stderr and "Traceback" not in result.output
