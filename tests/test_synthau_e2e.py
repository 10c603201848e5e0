"""End to end on SynthAU: render two domains, train D2CA a few steps, evaluate the checkpoint."""

import json

import numpy as np
import pytest
import torch

from d2ca.aus import DATASET_AUS, au_name
from d2ca.data.manifest import read_manifest
from d2ca.data.synth import render_dataset
from d2ca.evaluation import evaluate
from d2ca.hub import load_folder
from d2ca.train.config import TrainConfig
from d2ca.train.trainer import train

AUS = [au_name(n) for n in DATASET_AUS["synthau"]]
TINY = {
    "image_size": 32,
    "enc_widths": [4, 4, 8, 8, 8, 8, 16, 16],
    "dec_widths": [16, 8, 8, 8, 4, 4],
    "dec_aux_channels": 4,
    "disc_widths": [4, 8, 8],
    "proj_hidden": 16,
    "proj_dim": 8,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthau")
    # one thread: on a loaded shared CPU, two threads made this run 20x slower (spin-waits)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # 10 subjects x 4 frames per domain: 6 train subjects (the sampler takes 4 per batch)
    for preset in ("lab-a", "wild"):
        render_dataset(root / preset, preset, subjects=10, frames_per_subject=4, size=32, seed=3)
    torch.manual_seed(0)
    config = TrainConfig(
        source=str(root / "lab-a"), target=str(root / "wild"), method="d2ca", model=TINY,
        batch_size=8, subjects=4, steps=40, seed=0, log_every=5, eval_every=40,
        checkpoint_every=40, out_dir=str(root / "run"), progress=False, device="cpu",
    )  # fmt: skip
    try:
        model_dir = train(config)
    finally:
        torch.set_num_threads(threads)
    return root, model_dir


def test_renders_are_subject_disjoint(run):
    root, _ = run
    manifest = read_manifest(root / "wild")
    assert len(manifest) == 40 and set(manifest.au_names) >= set(AUS)
    subjects = {s: {manifest.column("split")[i] for i in range(len(manifest))
                    if manifest.subjects[i] == s} for s in set(manifest.subjects)}  # fmt: skip
    assert all(len(splits) == 1 for splits in subjects.values())
    assert {"train", "test"} <= {next(iter(v)) for v in subjects.values()}


def test_checkpoint_and_metrics(run):
    root, model_dir = run
    model = load_folder(model_dir)
    assert model.config.image_size == 32 and list(model.config.au_names) == AUS
    rows = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in rows if r["kind"] == "eval"][-1]["target_test"]
    assert list(final["f1"]) == AUS
    assert all(0.0 <= v <= 1.0 for v in final["f1"].values())
    assert final["avg_f1"] == pytest.approx(np.mean(list(final["f1"].values())))
    # the checkpoint evaluates to what the trainer logged for it
    again = evaluate(model, read_manifest(root / "wild").split("test"), au_names=AUS)
    assert again["f1"] == pytest.approx(final["f1"])


def test_au_loss_decreased(run):
    root, _ = run
    rows = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    au = [r["loss"]["au_s"] for r in rows if r["kind"] == "train"]
    assert len(au) == 8 and all(np.isfinite(au))
    assert np.mean(au[-2:]) < np.mean(au[:2])
