"""``d2ca adapt`` end to end on a tiny rendered source and target: the start checkpoint is
used, the adapted checkpoint loads and says where it came from, the report is written,
the run resumes, and bad input gets one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _datasets import blank_frame, write_image
from PIL import Image
from test_synthau_e2e import TINY
from typer.testing import CliRunner

from d2ca.aus import DATASET_AUS, au_name
from d2ca.cli import app
from d2ca.config import D2CAConfig
from d2ca.data.manifest import read_manifest
from d2ca.data.synth import render_dataset
from d2ca.evaluation.plots import CELL, HEADER
from d2ca.hub import load_folder, save_pretrained
from d2ca.models import D2CAModel

START_AUS = ["AU12", "AU01", "AU26"]  # another order, and an AU SynthAU lacks


def adapt_args(root: Path, *extra: str) -> list[str]:
    return [
        "adapt", "--target", str(root / "target"), "--out", str(root / "run"),
        "--synth", "lab-a", "--synth-subjects", "6", "--synth-frames", "3",
        "--init", str(root / "start"), "--batch-size", "4", "--subjects", "2",
        "--threads", "1", "--report-faces", "12", "--no-progress", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        render_dataset(root / "target", "wild", subjects=4, frames_per_subject=3, size=32, seed=5)
        torch.manual_seed(7)
        config = D2CAConfig.from_dict({**TINY, "au_names": START_AUS, "gamma2": 123.0})
        save_pretrained(D2CAModel(config), root / "start")
        result = CliRunner().invoke(app, adapt_args(root, "--steps", "3"))
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return root, result.output


def test_adapted_checkpoint_names_its_data(run) -> None:
    root, output = run
    assert f"adapted model: {root / 'run' / 'model'}" in output
    model = load_folder(root / "run" / "model")
    assert list(model.config.au_names) == [au_name(n) for n in DATASET_AUS["synthau"]]
    assert model.config.image_size == 32
    assert model.config.gamma2 == D2CAConfig().gamma2  # the objective's default, not the start's
    adaptation = model.config.provenance["adaptation"]
    assert adaptation["init"] == str(root / "start")
    assert adaptation["target"] == str(root / "target") and adaptation["target_faces"] == 12
    assert adaptation["target_labels_used"] is False
    assert "SynthAU preset lab-a, 6 subjects x 3 frames" in adaptation["source"]
    card = (root / "run" / "model" / "README.md").read_text()
    assert "Target (unlabelled)" in card and "No target label was used in training" in card


def test_training_started_from_the_checkpoint(run) -> None:
    root, _ = run
    given = load_folder(root / "start")
    start = load_folder(root / "run" / "start")
    adapted = load_folder(root / "run" / "model")
    assert torch.equal(start.e_au.state_dict()["layers.0.0.weight"],
                       given.e_au.state_dict()["layers.0.0.weight"])  # fmt: skip
    fc, given_fc = start.classifier.fc.weight, given.classifier.fc.weight
    names = list(start.config.au_names)
    assert torch.equal(fc[names.index("AU01")], given_fc[1])  # rows follow the AU names
    assert torch.equal(fc[names.index("AU12")], given_fc[0])
    assert not torch.equal(adapted.e_au.state_dict()["layers.0.0.weight"],
                           start.e_au.state_dict()["layers.0.0.weight"])  # fmt: skip


def test_report(run) -> None:
    root, _ = run
    folder = root / "run" / "report"
    text = (folder / "report.md").read_text()
    for name in ("base_rates", "probabilities", "tsne_start", "tsne_adapted", "swap_grid",
                 "swap_grid_start"):  # fmt: skip
        assert f"({name}.png)" in text
        with Image.open(folder / f"{name}.png") as im:
            assert im.size[0] > 100
    rows = min(4, len(read_manifest(root / "run" / "source").split("test")))  # unseen faces
    with Image.open(folder / "swap_grid.png") as im:
        assert im.size == (6 * CELL, HEADER + rows * CELL)
    assert "No target label was used in training" in text
    # the rendered target carries labels: both models are scored on them
    header = next(ln for ln in text.splitlines() if ln.startswith("| model | AU"))
    f1_lines = [ln for ln in text.splitlines() if ln.startswith(("| start (", "| adapted |"))]
    assert len(f1_lines) == 2 and all(ln.count("|") == header.count("|") for ln in f1_lines)


def test_resume_and_refusals(run) -> None:
    root, _ = run
    start_mtime = (root / "run" / "start" / "model.safetensors").stat().st_mtime_ns
    again = CliRunner().invoke(app, adapt_args(root, "--steps", "5", "--resume", "--no-report"))
    assert again.exit_code == 0, again.output
    assert "resumed from" in again.output
    model = load_folder(root / "run" / "model")
    assert model.config.provenance["steps"] == 5
    assert (root / "run" / "start" / "model.safetensors").stat().st_mtime_ns == start_mtime
    steps = [json.loads(ln)["step"] for ln in (root / "run" / "metrics.jsonl").open()]
    assert max(steps) == 5

    runner = CliRunner()
    fresh = runner.invoke(app, adapt_args(root, "--steps", "5"))
    assert fresh.exit_code == 1 and "already holds a run; pass --resume" in fresh.output
    other = runner.invoke(app, adapt_args(root, "--steps", "5", "--resume", "--init", "scratch"))
    assert other.exit_code == 1 and "cannot resume" in other.output and "init" in other.output
    weights = runner.invoke(
        app, adapt_args(root, "--steps", "5", "--init", "scratch", "--set", "gamma2=3")
    )
    assert weights.exit_code == 1 and "--set gamma2: d2ca adapt sets only the architecture" in (
        weights.output
    )
    bad = adapt_args(root, "--steps", "5", "--batch-size", "5")
    bad[bad.index("--out") + 1] = str(root / "fresh")
    refused = runner.invoke(app, bad)
    assert refused.exit_code == 1 and "batch_size 5 is not a multiple of subjects 2" in (
        refused.output
    )
    assert not (root / "fresh").exists()  # refused before rendering anything
    # a target without faces: its preparation stopped before writing a manifest
    walls = root / "walls"
    write_image(walls / "wall.png", blank_frame("", 0))
    prepared = runner.invoke(app, ["prepare", "folder", str(walls), "-o", str(root / "empty")])
    assert prepared.exit_code == 1 and "no face found in any frame" in prepared.output
    for target, reason in (("empty", "no face in any of its frames"), ("nothing", "no such")):
        args = adapt_args(root, "--steps", "1")
        args[args.index("--target") + 1] = str(root / target)
        refused = runner.invoke(app, args)
        assert refused.exit_code == 1 and refused.output.count("\n") == 1
        assert refused.output.startswith(f"error: {root / target}") and reason in refused.output
