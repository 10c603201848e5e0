"""Every command's --device takes auto, cpu, cuda and cuda:N; a device this machine lacks is a
one-line error with exit code 2, before anything is loaded, rendered or written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_train import TINY, make_domain
from typer.testing import CliRunner

from d2ca.cli import app
from d2ca.devices import resolve_device
from d2ca.errors import DeviceError
from d2ca.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
FACE = str(ROOT / "examples" / "face.png")
runner = CliRunner()


def test_auto_is_cuda_then_mps_then_cpu() -> None:
    auto = resolve_device("auto")
    if torch.cuda.is_available():
        assert auto == torch.device("cuda", torch.cuda.current_device())
    elif torch.backends.mps.is_available():
        assert auto.type == "mps"
    else:
        assert auto == torch.device("cpu")
    assert resolve_device(None) == auto and resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_an_index_is_the_current_gpu_or_refused() -> None:
    if torch.cuda.is_available():
        assert resolve_device("cuda").index == torch.cuda.current_device()
    else:
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("gpu")


def test_training_defaults_to_auto(tmp_path) -> None:
    src = make_domain(tmp_path / "src", seed=0, tint=0, subjects=4, per_subject=4)
    config = TrainConfig(source=str(src), target=str(src), steps=1, batch_size=4, subjects=2,
                         model=TINY, out_dir=str(tmp_path / "run"), progress=False)  # fmt: skip
    assert config.device == "auto"
    assert Trainer(config).device == resolve_device("auto")


def _commands(tmp: Path) -> dict[str, list[str]]:
    """One call of each command that takes --device, valid but for the device."""
    target = make_domain(tmp / "target", seed=1, tint=50, subjects=3, per_subject=2)
    return {
        "detect": ["detect", FACE],
        "swap": ["swap", FACE, FACE, "-o", str(tmp / "swap.png")],
        "interpolate": ["interpolate", FACE, FACE, FACE, "-o", str(tmp / "strip.png")],
        "train": [
            "train",
            "--source",
            str(target),
            "--target",
            str(target),
            "--steps",
            "1",
            "-o",
            str(tmp / "run"),
        ],  # fmt: skip
        "adapt": [
            "adapt",
            "--synth",
            "lab-a",
            "--target",
            str(target),
            "--steps",
            "1",
            "--out",
            str(tmp / "adapt"),
        ],  # fmt: skip
        "prepare": ["prepare", "folder", str(target), "--out", str(tmp / "prepared")],
        "evaluate": ["evaluate", str(tmp / "model"), "--data", str(target)],
        "fid": ["fid", str(target), str(target)],
        "plot tsne": [
            "plot",
            "tsne",
            str(tmp / "model"),
            "--data",
            str(target),
            "--au",
            "1",
            "-o",
            str(tmp / "tsne.png"),
        ],  # fmt: skip
    }


@pytest.mark.parametrize("device", ["cuda:99", "gpu"])
def test_every_command_refuses_a_missing_device_in_one_line(tmp_path, device) -> None:
    for name, args in _commands(tmp_path).items():
        result = runner.invoke(app, [*args, "--device", device])
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, name
        assert device in result.stderr and "Traceback" not in result.output, name
    written = {"run", "adapt", "prepared", "swap.png", "strip.png", "tsne.png"}
    assert not written & {p.name for p in tmp_path.iterdir()}  # nothing was written
