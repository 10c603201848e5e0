"""Checkpoint loading without a network: Hub cache, offline failure, local folder, default."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import skimage.data
import torch
from _inference import save_small_checkpoint
from safetensors.torch import load_file

from d2ca import hub
from d2ca.config import CONFIG_NAME, WEIGHTS_NAME
from d2ca.errors import CheckpointError
from d2ca.inference.pipeline import D2CA

TESTS = Path(__file__).parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def build_hub_cache(cache: Path, repo_id: str, checkpoint: Path) -> Path:
    """Lay out ``checkpoint`` as huggingface_hub caches a downloaded repo (blobs + symlinks)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        data = (checkpoint / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
    return snapshot


def run_offline(cache: Path, code: str) -> subprocess.CompletedProcess[str]:
    # huggingface_hub reads HF_HUB_OFFLINE when imported: set it in a fresh interpreter. No
    # HF_* setting of the machine's (a token, another cache, an endpoint) reaches the test,
    # and PYTHONPATH is prepended to, not replaced (d2ca may be installed through it).
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    env = inherited | {
        "HF_HOME": str(cache.parent / "hf_home"),
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": path,
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hub_repo_loads_from_the_cache_offline(tmp_path) -> None:
    checkpoint = save_small_checkpoint(tmp_path / "ckpt", seed=7)
    cache = tmp_path / "hub"
    build_hub_cache(cache, "someone/d2ca-tiny", checkpoint)
    proc = run_offline(
        cache,
        f"""
        import json, time, torch
        from safetensors.torch import load_file
        from typer.testing import CliRunner
        from d2ca.cli import app
        from d2ca.errors import CheckpointError
        from d2ca.inference.pipeline import D2CA

        model = D2CA.from_pretrained("someone/d2ca-tiny")
        by_revision = D2CA.from_pretrained("someone/d2ca-tiny", revision="{COMMIT}")
        reference = load_file("{checkpoint / WEIGHTS_NAME}")
        for m in (model, by_revision):
            state = m.model.state_dict()
            assert state.keys() == reference.keys()
            assert all(torch.equal(state[k].cpu(), reference[k]) for k in reference)
        start = time.perf_counter()
        try:
            D2CA.from_pretrained("nobody/not-cached")
            raise SystemExit("loaded an uncached repo offline")
        except CheckpointError as e:
            message = str(e)
        seconds = time.perf_counter() - start
        info = CliRunner().invoke(app, ["info", "someone/d2ca-tiny", "--json"])
        print(json.dumps({{"message": message, "seconds": seconds, "info": info.stdout}}))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # nothing but our line reached stdout
    assert "not in the local cache" in report["message"] and "HF_HUB_OFFLINE" in report["message"]
    assert report["seconds"] < 5  # fails at once, no retries
    assert json.loads(report["info"])["image_size"] == 64


def test_local_folder_and_its_errors(tmp_path) -> None:
    checkpoint = save_small_checkpoint(tmp_path / "ckpt", seed=1)
    model = D2CA.from_pretrained(str(checkpoint))
    reference = load_file(str(checkpoint / WEIGHTS_NAME))
    assert all(torch.equal(model.model.state_dict()[k].cpu(), v) for k, v in reference.items())
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / CONFIG_NAME).write_text((checkpoint / CONFIG_NAME).read_text())
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        D2CA.from_pretrained(tmp_path / "half")
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        D2CA.from_pretrained(tmp_path / "nowhere")


def test_default_checkpoint_loads_or_says_it_is_not_shipped(capsys) -> None:
    shipped = (hub.DEFAULT_CHECKPOINT / WEIGHTS_NAME).is_file()
    if shipped:
        start = time.perf_counter()
        model = D2CA.from_pretrained()
        assert time.perf_counter() - start < 30
        assert capsys.readouterr().out == ""
        probs = model.detect_aus(skimage.data.astronaut()).probabilities
        assert probs.shape == (1, model.config.num_aus) and ((probs >= 0) & (probs <= 1)).all()
    else:
        with pytest.raises(CheckpointError, match="default checkpoint is not shipped"):
            D2CA.from_pretrained()
