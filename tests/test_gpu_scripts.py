"""The prepared GPU scripts (benchmarks/gpu/) as CPU dry runs: a lent GPU machine gives 15
minutes a session, so a script that has rotted since it last ran must fail here, not there."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_check_sh_dry_run_records_every_step_and_packs_its_json(tmp_path: Path) -> None:
    """check.sh on the CPU with tiny sizes: steps chosen by D2CA_CHECK_STEPS, each recorded
    with its exit code, figures packed into one tar beside steps.json and summary.txt."""
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "D2CA_CHECK_DEVICE": "cpu",
        "D2CA_CHECK_TINY": "1",
        "D2CA_CHECK_STEPS": "env,fp32_nodiag,stacked_passes",
        "D2CA_CHECK_COMMIT": "dry-run",
        "OUT": str(out),  # as on the device machine: loose files removed after packing
    }
    proc = subprocess.run(
        ["bash", "benchmarks/gpu/check.sh"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    steps = {s["step"]: s for s in json.loads((out / "steps.json").read_text())}
    assert sorted(steps) == ["env", "fp32_nodiag", "stacked_passes"]
    assert all(s["rc"] == 0 for s in steps.values()), steps
    assert (out / "summary.txt").read_text().strip()
    assert sorted(p.name for p in out.iterdir()) == [
        "gpu-results.tar.gz",
        "steps.json",
        "summary.txt",
    ]
    with tarfile.open(out / "gpu-results.tar.gz") as tar:
        names = set(tar.getnames())
        env_json = json.load(tar.extractfile("env.json"))
        step = json.load(tar.extractfile("train_step_fp32_nodiag.json"))
    assert {"train_step_fp32_nodiag.json", "stacked_passes.json"} <= names  # sync points: CUDA
    assert env_json["git_commit"] == "dry-run" and env_json["torch"]["cuda_available"] is False
    assert step["device"] == "cpu"


def test_stability_dry_run_trains_each_variant_and_summarises(tmp_path: Path) -> None:
    """gpu/stability.py --tiny: the variants trained side by side, one JSON of curves each and
    a summary with every exit code 0."""
    out = tmp_path / "stability"
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpu/stability.py", "--out", str(out), "--tiny",
         "--steps", "4", "--variants", "paper,update-clip"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "stability.json").read_text())
    assert result["exit_codes"] == {"paper": 0, "update-clip": 0}
    for name in ("paper", "update-clip"):
        assert result["summary"][name]["last_target_f1"] is not None
        curves = json.loads((out / f"{name}.json").read_text())
        assert [s for s, _ in curves["train"]["au_s"]] == [1, 2, 3, 4]
    config = json.loads((out / "update-clip" / "train_config.json").read_text())
    assert config["update_clip"] is True
