"""Checkpoints from strangers: altered copies of the shipped default fail in one line, and
nothing is allocated before the config's types and bounds and the weights' header agree."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from _inference import save_small_checkpoint, small_config
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from d2ca.cli import app
from d2ca.config import CONFIG_NAME, WEIGHTS_NAME
from d2ca.errors import CheckpointError
from d2ca.hub import DEFAULT_CHECKPOINT, load_folder
from d2ca.inference.pipeline import D2CA
from d2ca.models import D2CAModel

AUS = ["AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23"]

# (config.json field, value a stranger wrote, what the one-line error says)
CONFIG_CASES = [
    ("enc_widths", [2**20] * 8, r"enc_widths\[0\] must be 1 to 4096 channels, got 1048576"),
    ("enc_widths", [16, 24, 32, 48, 96, 96, 0, 128], r"enc_widths\[6\] must be 1 to 4096"),
    ("dec_widths", [128, 64, -48, 32, 16, 8], r"dec_widths\[2\] must be 1 to 4096"),
    ("proj_hidden", 10**7, r"proj_hidden must be 1 to 4096 channels, got 10000000"),
    ("enc_widths", [4096] * 8, r"asks for \d+ M parameters, more than the 268 M"),
    ("enc_widths", "16,24,32", r"enc_widths must be a list, got '16,24,32'"),
    ("enc_widths", [16, 24, 32], "enc_widths and enc_strides need eight entries"),
    ("enc_strides", [2, 2, 2, 2, 2, 1, 1, 1], "enc_strides must downsample by 16"),
    ("image_size", "128", r"image_size must be an integer, got '128'"),
    ("image_size", 128.0, r"image_size must be an integer, got 128\.0"),
    ("image_size", None, r"image_size must be an integer, got None"),
    ("image_size", 10**6, r"image_size must be a multiple of 16 from 16 to 1024, got 1000000"),
    ("image_size", 100, r"image_size must be a multiple of 16 from 16 to 1024, got 100"),
    ("in_channels", True, r"in_channels must be an integer, got True"),
    ("disc_scales", 10**9, r"disc_scales must be 1 to 8, got 1000000000"),
    ("mean", [0.5], r"mean and std need one value per input channel \(3\)"),
    ("std", [0.0, 0.5, 0.5], r"std > 0"),
    ("tau", float("nan"), r"tau must be a finite number, got nan"),
    ("gamma2", 10**400, r"gamma2 must be a finite number"),
    ("use_icl", "yes", r"use_icl must be true or false, got 'yes'"),
    ("feature_norm", 1, r"feature_norm must be a string, got 1"),
    ("rec_loss", "l3", r"rec_loss must be 'l1' or 'l2', got 'l3'"),
    ("au_names", list(range(12)), r"au_names\[0\] must be a string, got 0"),
    ("au_names", "AU01", r"au_names must be a list, got 'AU01'"),
    ("au_names", ["smile", *AUS], r"au_names: 'smile' is not an AU name \(AU01 to AU99\)"),
    ("au_names", ["AU01", *AUS], r"au_names lists AU01 more than once"),
    ("au_names", [], r"au_names is empty"),
    ("au_thresholds", ["0.5"] * 12, r"au_thresholds\[0\] must be a finite number, got '0\.5'"),
    ("au_thresholds", [1.5] * 12, r"au_thresholds must be in \[0, 1\]"),
    ("provenance", [1, 2], r"provenance must be a JSON object, got \[1, 2\]"),
    ("bogus", 1, r"unknown config keys: bogus"),
    # a valid config that is not the weights' architecture
    ("enc_widths", [16, 24, 32, 48, 96, 96, 96, 64], r"'classifier\.conv\.0\.weight' has shape"),
    ("image_size", 64, r"'classifier\.fc\.weight' has shape \(12, 1024\), the config expects"),
]


def huge_classifier(folder: Path) -> None:
    """A header by hand that declares a 12 GiB classifier.fc.weight the file does not hold."""
    entries, offset = {}, 0
    with safe_open(str(folder / WEIGHTS_NAME), framework="pt") as f:
        shapes = {k: (f.get_slice(k).get_dtype(), f.get_slice(k).get_shape()) for k in f.keys()}
    shapes["classifier.fc.weight"] = ("F32", [12, 2**28])
    for name, (dtype, shape) in shapes.items():
        size = {"F32": 4, "I64": 8}[dtype] * math.prod(shape)
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header = json.dumps(entries).encode()
    (folder / WEIGHTS_NAME).write_bytes(struct.pack("<Q", len(header)) + header)


def edit_weights(edit: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    def alter(folder: Path) -> None:
        state = load_file(str(folder / WEIGHTS_NAME))
        edit(state)
        save_file(state, str(folder / WEIGHTS_NAME))

    return alter


def replace_file(name: str, data: str | bytes) -> Callable[[Path], None]:
    def alter(folder: Path) -> None:
        path = folder / name
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)

    return alter


def halve_weights(folder: Path) -> None:
    data = (folder / WEIGHTS_NAME).read_bytes()
    (folder / WEIGHTS_NAME).write_bytes(data[: len(data) // 2])


def pickle_instead(folder: Path) -> None:
    torch.save(load_file(str(folder / WEIGHTS_NAME)), folder / "pytorch_model.bin")
    (folder / WEIGHTS_NAME).unlink()


# (what a stranger did to the files, what the one-line error says)
FILE_CASES = {
    "config not an object": (replace_file(CONFIG_NAME, "[1, 2, 3]"), r"a config is a JSON object"),
    "config nested too deep": (
        replace_file(CONFIG_NAME, "[" * 100_000 + "]" * 100_000),
        r"is not valid JSON: maximum recursion depth",
    ),
    "config of 2 MB": (
        replace_file(CONFIG_NAME, json.dumps({"provenance": {"notes": "x" * 2**21}})),
        r"is over 1048576 bytes: not a D2CA config",
    ),
    "pickle weights only": (pickle_instead, r"model\.safetensors is missing"),
    "truncated weights": (halve_weights, r"not a valid safetensors file"),
    "empty weights": (
        replace_file(WEIGHTS_NAME, b""),
        r"not a valid safetensors file: .*header too small",
    ),
    "header length 2**60": (
        replace_file(WEIGHTS_NAME, struct.pack("<Q", 2**60) + b"{}"),
        r"not a valid safetensors file: .*header too large",
    ),
    "header of a 12 GiB tensor, no data": (
        huge_classifier,
        r"not a valid safetensors file: .*file not fully covered",
    ),
    "NaN weight": (
        edit_weights(lambda s: s["classifier.fc.bias"].__setitem__(0, float("nan"))),
        r"tensor 'classifier\.fc\.bias' holds NaN or infinite values",
    ),
    "infinite weight": (
        edit_weights(lambda s: s["e_au.layers.0.0.weight"].__setitem__(0, float("inf"))),
        r"tensor 'e_au\.layers\.0\.0\.weight' holds NaN or infinite values",
    ),
    "integer weights": (
        edit_weights(lambda s: s.update({"classifier.fc.weight": s["classifier.fc.weight"].int()})),
        r"tensor 'classifier\.fc\.weight' holds I32 values, expected BF16 or F16 or F32 or F64",
    ),
    "wrong shape": (
        edit_weights(lambda s: s.update({"classifier.fc.weight": torch.zeros(12, 2048)})),
        r"tensor 'classifier\.fc\.weight' has shape \(12, 2048\), the config expects \(12, 1024\)",
    ),
    "missing tensor": (
        edit_weights(lambda s: s.pop("classifier.fc.bias")),
        r"tensor 'classifier\.fc\.bias' missing from the weights",
    ),
    "extra tensor": (
        edit_weights(lambda s: s.update({"extra": torch.zeros(3)})),
        r"unexpected tensor 'extra' in the weights",
    ),
}


def altered_default(folder: Path, alter: Callable[[Path], None]) -> Path:
    shutil.copytree(DEFAULT_CHECKPOINT, folder)
    alter(folder)
    return folder


def set_field(name: str, value: object) -> Callable[[Path], None]:
    def alter(folder: Path) -> None:
        config = json.loads((folder / CONFIG_NAME).read_text())
        (folder / CONFIG_NAME).write_text(json.dumps({**config, name: value}))

    return alter


def assert_refused(folder: Path, message: str) -> None:
    """The API raises CheckpointError; ``d2ca info`` prints one ``error:`` line, exit 1."""
    with pytest.raises(CheckpointError, match=message):
        D2CA.from_pretrained(folder, device="cpu")
    result = CliRunner().invoke(app, ["info", str(folder)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("field", "value", "message"), CONFIG_CASES, ids=[f"{f}={v!r:.24}" for f, v, _ in CONFIG_CASES]
)
def test_a_strangers_config_is_refused_in_one_line(tmp_path, field, value, message):
    assert_refused(altered_default(tmp_path / "ckpt", set_field(field, value)), message)


@pytest.mark.parametrize(("alter", "message"), FILE_CASES.values(), ids=FILE_CASES.keys())
def test_strangers_files_are_refused_in_one_line(tmp_path, alter, message):
    assert_refused(altered_default(tmp_path / "ckpt", alter), message)


def test_nothing_is_allocated_before_config_and_header_agree(tmp_path):
    """With 512 MiB of address space above what the process holds, configs that made the old
    loader allocate 39 TB (widths of 2**20), 3 TB (image_size 10**6), 13 GB (widths of 4096:
    over the parameter bound) and 0.8 GB (widths of 1024: within the bounds, but not the
    weights' shapes) are refused in one line each."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the process size from /proc")
    fields = [
        ("enc_widths", [2**20] * 8),
        ("image_size", 10**6),
        ("enc_widths", [4096] * 8),
        ("enc_widths", [1024] * 8),
    ]
    folders = [str(altered_default(tmp_path / str(i), set_field(*f))) for i, f in enumerate(fields)]
    script = textwrap.dedent(f"""
        import resource
        import torch
        from d2ca.errors import CheckpointError
        from d2ca.hub import load_folder

        torch.set_num_threads(1)
        status = open("/proc/self/status").read()
        held = int(status.split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (held + 2**29, resource.RLIM_INFINITY))
        for folder in {folders!r}:
            try:
                load_folder(folder)
            except CheckpointError as e:
                print(e)
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 4, run.stdout
    assert "enc_widths[0] must be 1 to 4096 channels" in lines[0]
    assert "image_size must be a multiple of 16 from 16 to 1024" in lines[1]
    assert "more than the 268 M a D2CA checkpoint may have" in lines[2]
    assert "the config expects (512, 1024, 3, 3)" in lines[3]


def test_trusted_checkpoints_still_load_exactly(tmp_path):
    loaded = load_folder(DEFAULT_CHECKPOINT).state_dict()
    for name, tensor in load_file(str(DEFAULT_CHECKPOINT / WEIGHTS_NAME)).items():
        assert torch.equal(loaded[name], tensor), name
    small = save_small_checkpoint(tmp_path / "small", seed=3)
    reference = load_file(str(small / WEIGHTS_NAME))
    loaded = load_folder(small).state_dict()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in reference.items())
    # half-precision weights are floating point: cast to float32 on loading
    state = {k: v.half() if v.is_floating_point() else v for k, v in reference.items()}
    save_file(state, str(small / WEIGHTS_NAME))
    assert load_folder(small).state_dict()["classifier.fc.weight"].dtype == torch.float32


@pytest.mark.parametrize("size", [16, 48, 1024])
def test_every_image_size_the_bounds_accept_runs(size):
    """The smallest size (one feature cell), an odd multiple of 16 and the largest all run."""
    model = D2CAModel(dataclasses.replace(small_config(), image_size=size)).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, size, size)).shape == (1, 12)
