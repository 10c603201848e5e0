"""The docs agree with the code: every default a doc quotes, and what it says the shipped
checkpoint was trained with, is read back from the doc's own sentence and compared with the
code (the config dataclasses, the CLI's options, the constants) or the committed files
(``d2ca/pretrained/default/``, the result JSONs under ``docs/``).

Each quote is found by a regex anchored on the words around it, and must be found as many
times as the doc quotes it: a reworded sentence makes its test fail, loudly. Update the regex
with the wording; never drop the check. Measured figures (read as text) agree with the JSONs
to the precision they are printed with; defaults must be equal.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
import typer

from d2ca.aus import DATASET_AUS, shared_aus
from d2ca.cli import app
from d2ca.config import D2CAConfig
from d2ca.face.track import KEYFRAME_INTERVAL, FaceTracker
from d2ca.train.config import RESUMABLE_CHANGES, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CARD = "d2ca/pretrained/default/README.md"
TRAIN = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
MODEL = D2CAConfig()


# ------------------------------------------------------------------ reading the two sides
@functools.cache
def _doc(path: str) -> str:
    """The doc's text with wrapped lines joined (a table row stays one line)."""
    return re.sub(r"[ \t]*\n(?![\n|])[ \t]*", " ", (ROOT / path).read_text())


@functools.cache
def _json(path: str) -> Any:
    return json.loads((ROOT / path).read_text())


def _shipped(key: str) -> Any:
    """A field of the shipped default's config.json."""
    return _json("d2ca/pretrained/default/config.json")[key]


def _provenance(key: str) -> Any:
    return _shipped("provenance")[key]


def _shipped_train(key: str) -> Any:
    """A field of the train config the shipped default was trained with."""
    return _provenance("train_config")[key]


@functools.cache
def _command(path: str) -> click.Command:
    """``"plot tsne"`` -> that Typer command, as click sees it (``""``: the whole CLI)."""
    if not path:
        return typer.main.get_command(app)
    command = _command("")
    for name in path.split():
        command = command.get_command(click.Context(command), name)
    return command


def _cli(path: str, option: str) -> Any:
    """The default of a CLI option, by its parameter name."""
    return next(p.default for p in _command(path).params if p.name == option)


@functools.cache
def _device_defaults() -> dict[str, Any]:
    """Each command's ``--device`` default; ``None`` means the TrainConfig default."""
    paths = ("detect", "swap", "interpolate", "train", "adapt", "prepare", "evaluate", "fid")
    defaults = {p: _cli(p, "device") for p in (*paths, "plot tsne")}
    return {p: TRAIN["device"] if d is None else d for p, d in defaults.items()}


def _device_default() -> Any:
    """The ``--device`` default that every command shares (the set of them if they differ)."""
    defaults = set(_device_defaults().values())
    return defaults.pop() if len(defaults) == 1 else defaults


def _signature_default(function: Callable, name: str) -> Any:
    return inspect.signature(function).parameters[name].default


def _face(name: str) -> Any:
    """A public name of ``d2ca.face`` (detection, alignment)."""
    import d2ca.face

    return getattr(d2ca.face, name)


def _face_detector(name: str) -> Any:
    return _signature_default(_face("FaceDetector"), name)


def _d2ca_default(method: str, name: str) -> Any:
    """A default of a method of the ``d2ca.D2CA`` facade."""
    from d2ca import D2CA

    return _signature_default(getattr(D2CA, method), name)


def _presets() -> dict[str, Any]:
    from d2ca.data.synth import PRESETS  # lazy: SynthAU's modules are moving

    return PRESETS


def _preset_row(format_: Callable[[Any], str]) -> tuple[str, ...]:
    """One row of synthau.md's preset table: a cell per preset, in ``PRESETS`` order."""
    return tuple(format_(p) for p in _presets().values())


def _synth_splits() -> tuple[int, ...]:
    """SynthAU's default train / val / test proportions of subjects, in %."""
    from d2ca.data.synth import render_dataset

    return tuple(round(100 * s) for s in _signature_default(render_dataset, "splits"))


def _prototype(name: str) -> str:
    from d2ca.data.synth import PROTOTYPES

    aus = PROTOTYPES[name]
    return ", ".join(f"{au} ({v:g})" for au, v in aus.items()) or "none"


def _f1_row(path: str) -> tuple[float, ...]:
    """Per-AU target-test F1, target average and source-val average, x100, of a result JSON."""
    r = _json(path)
    per_au = tuple(100 * v for v in r["target_test"]["f1"].values())
    return (*per_au, 100 * r["target_test"]["avg_f1"], 100 * r["source_val"]["avg_f1"])


def _card_row(split: str) -> tuple[float, ...]:
    m = _provenance("metrics")[split]
    return (m["n"], *(100 * v for v in m["f1"].values()), 100 * m["avg_f1"])


def _curve(name: str) -> tuple[tuple[float, float], ...]:
    """(source-val, target-test) F1 at each evaluation of a run in docs/starvation/curves/."""
    r = _json(f"docs/starvation/curves/{name}.json")
    return tuple(zip(r["source_val"], r["target_test"], strict=True))


def _starvation(path: str) -> tuple[float, float, float, float]:
    """A run of benchmarks/starvation/run.py: L_au^s first and last (mean of the last three
    logged values, as run.py's table), source F1 x100 at the last step, spread of a_s."""
    r = _json(f"docs/starvation/{path}.json")
    curve = r["au_s_curve"]
    f1 = 100 * (r["eval"][-1]["source_val_f1"] or 0.0)
    return curve[0], sum(curve[-3:]) / 3, f1, r["diagnostics"][-1]["spread"]["a_s"]


def _starvation_row(token: str) -> str:
    """The row of training.md's starvation table that names ``token`` in backticks."""
    return (
        rf"^\|[^|\n]*`{re.escape(token)}`[^|\n]*\| \d+ \| ([\d.]+) -> ([\d.]+) \| "
        r"(?:[^|\n]*, )?([\d.]+) \| ([\d.]+) \|$"
    )


def _value(text: str) -> Any:
    """A quoted default as Python reads it (``1e-3``, ``(0.5, 0.999)``, ``"real"``), else text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _cells(text: str) -> tuple[Any, ...]:
    """``"20.7 | **14.7** | 27.3 / 7.4 | |"`` -> ``("20.7", "14.7", ("27.3", "7.4"))``."""
    cells = [c.strip().replace("*", "") for c in text.split("|")]
    return tuple(tuple(x.strip() for x in c.split("/")) if "/" in c else c for c in cells if c)


def _names(text: str) -> frozenset[str]:
    """The backticked names of a list, ``d2ca `` dropped: ``{"detect", "swap", "lab-c"}``."""
    return frozenset(n.removeprefix("d2ca ") for n in re.findall(r"`([^`]+)`", text))


def _agrees(quoted: Any, value: Any) -> bool:
    """A figure quoted as text agrees with a number to its printed precision; the rest exactly."""
    if isinstance(value, tuple | list):
        return (
            isinstance(quoted, tuple | list)
            and len(quoted) == len(value)
            and all(_agrees(q, v) for q, v in zip(quoted, value, strict=True))
        )
    if isinstance(quoted, str) and isinstance(value, int | float) and not isinstance(value, bool):
        quoted = quoted.replace(",", "")  # thousands: "5,731"
        decimals = len(quoted.partition(".")[2])
        return abs(float(quoted) - value) <= 0.5 * 10**-decimals + 1e-9
    return quoted == value


# ------------------------------------------------------------------ the quotes
@dataclasses.dataclass(frozen=True)
class Quote:
    doc: str
    pattern: str  # re.M; its groups hold the quoted value(s)
    code: Callable[[], Any]  # the value in the code; a tuple for several groups
    parse: Callable[[str], Any] = _value  # str: a measured figure, compared to its precision
    count: int = 1  # the doc quotes it this many times; a reworded one drops out of the count


def _parameter_tensors() -> tuple[int, int, int]:
    """The default network's parameter tensors: all, the generator's, the discriminator's."""
    from d2ca.models import D2CAModel

    model = D2CAModel(D2CAConfig())
    every, disc = len(list(model.parameters())), len(model.discriminator_parameters())
    return every, every - disc, disc


def _update_clip(folder: str, name: str) -> Any:
    return _json(f"docs/performance/step-ops/update-clip/{folder}{name}.json")


def _update_clip_cpu() -> tuple[str, ...]:
    """CPU seconds of a D2CA step, clipped then plain, three alternations, and the range of
    the pairs' ratios."""
    cpu = {k: [_update_clip("ab-cpu/", f"{k}-{i}")["d2ca"]["step_cpu_s"] for i in (1, 2, 3)]
           for k in ("clip", "plain")}  # fmt: skip
    ratios = [c / p for c, p in zip(cpu["clip"], cpu["plain"], strict=True)]
    return (*(f"{s:.2f}" for s in cpu["clip"] + cpu["plain"]),
            f"{min(ratios):.2f}", f"{max(ratios):.2f}")  # fmt: skip


def _gpu(path: str) -> dict:
    """A JSON of the lent H200 runs: ``gpu-h200/`` (the first), ``gpu-h200-graphs/``."""
    return _json(f"docs/performance/gpu-h200{path}.json")


def _gpu_fields(path: str, *keys: str) -> tuple:
    return tuple(_gpu(path)[key] for key in keys)


def _gpu_step(path: str, key: str = "step_s", run: str = "d2ca") -> float:
    return _gpu(f"{path}")[run][key]


def _detect_ops(key: str, run: str) -> float:
    return _json("docs/performance/detect_ops_cpu.json")[run][key]


def _loop_rates(folder: str) -> tuple[float, ...]:
    """The real run's logged steps/s after step 20, lowest and highest, and as seconds a step."""
    path = f"docs/performance/gpu-h200{folder}/train_run_metrics.jsonl"
    rows = [json.loads(line) for line in (ROOT / path).read_text().splitlines()]
    rates = [r["steps_per_s"] for r in rows if r.get("kind") == "train" and r["step"] > 20]
    return min(rates), max(rates), 1 / max(rates), 1 / min(rates)


def _prepare(run: str, key: str = "ms_per_frame") -> float:
    return _json("docs/performance/prepare_cpu.json")["runs"][run][key]


def _reader(dataset: str, key: str = "bytes_per_record") -> int:
    return _json("docs/performance/reader_memory.json")[dataset][key]


def _cpu_step_ab() -> tuple[float, ...]:
    return tuple(_json(f"docs/performance/step-ab-cpu/ab_{tree}_{i}.json")["d2ca"]["step_cpu_s"]
                 for tree in ("main", "old") for i in (1, 2, 3))  # fmt: skip


Q = Quote
QUOTES = {
    # --- README.md -------------------------------------------------------------------
    "readme-tracking-interval": Q(
        "README.md", r"full MTCNN every (\d+) frames", lambda: KEYFRAME_INTERVAL
    ),
    "readme-device-auto": Q(
        "README.md", r"`--device (\w+)` \(the default of every command\)", _device_default
    ),
    "readme-default-pair": Q(
        "README.md",
        r"labelled `([\w-]+)` studio faces as source, unlabelled `([\w-]+)` faces as target",
        lambda: tuple(re.findall(r"SynthAU (\S+)", _provenance("pair"))),
    ),
    "readme-default-size-steps": Q(
        "README.md",
        r"faces as target, (\d+)x\1, (\d+) steps from a random start",
        lambda: (_shipped("image_size"), _provenance("steps")),
    ),
    # --- docs/usage.md -----------------------------------------------------------------
    "usage-tracking-interval": Q(
        "docs/usage.md", r"full MTCNN every (\d+) frames", lambda: KEYFRAME_INTERVAL
    ),
    "usage-keyframe-interval": Q(
        "docs/usage.md",
        r"every `keyframe_interval` analysed frames \(default (\d+)\)",
        lambda: KEYFRAME_INTERVAL,
    ),
    "usage-cli-keyframe-interval": Q(
        "docs/usage.md",
        r"`--keyframe-interval K` \(default (\d+)\)",
        lambda: _cli("detect", "keyframe_interval"),
    ),
    "usage-cli-detect-device": Q(
        "docs/usage.md", r"`--device D` \(default `(\w+)`\)", lambda: _cli("detect", "device")
    ),
    "usage-device-auto": Q(
        "docs/usage.md",
        r"`device=\"(\w+)\"` \(the default of `from_pretrained` and of every command's "
        r"`--device`\)",
        _device_default,
    ),
    "usage-from-pretrained-device": Q(
        "docs/usage.md",
        r"`device=\"(\w+)\"` \(the default of `from_pretrained`",
        lambda: _d2ca_default("from_pretrained", "device"),
    ),
    "usage-lost-threshold": Q(
        "docs/usage.md",
        r"falls below the detector's last threshold \(([\d.]+)\)",
        lambda: _face_detector("thresholds")[-1],
    ),
    "usage-min-iou": Q(
        "docs/usage.md",
        r"IoU (?:below|>=) ([\d.]+)",
        lambda: _signature_default(FaceTracker, "min_iou"),
        count=2,
    ),
    "usage-face-detector": Q(
        "docs/usage.md",
        r"`FaceDetector\(min_face_size=(\d+), max_side=(\w+), batch_size=(\d+)\)`",
        lambda: tuple(_face_detector(n) for n in ("min_face_size", "max_side", "batch_size")),
    ),
    "usage-crop-scale": Q(
        "docs/usage.md",
        r"\*\*shrunk to (\d+) % about the crop's centre\*\*",
        lambda: round(100 * _face("CROP_SCALE")),
    ),
    "usage-arcface-template": Q(
        "docs/usage.md",
        r"\(112 x 112: eyes at \(([\d.]+), ([\d.]+)\) and \(([\d.]+), ([\d.]+)\), nose "
        r"\(([\d.]+), ([\d.]+)\), mouth corners \(([\d.]+), ([\d.]+)\) and "
        r"\(([\d.]+), ([\d.]+)\)\)",
        lambda: tuple(float(v) for v in _face("ARCFACE_TEMPLATE_112").ravel()),
        str,
    ),
    "usage-default-threshold": Q(
        "docs/usage.md",
        r"\(`config.thresholds`, ([\d.]+) unless",
        lambda: D2CAConfig(au_names=("AU01",)).thresholds[0],
    ),
    # --- docs/performance.md -----------------------------------------------------------
    "performance-default-k": Q(
        "docs/performance.md",
        r"(?:tracking, K = (\d+) \(default\)|at the default K = (\d+)|Why K = (\d+) by default)",
        lambda: KEYFRAME_INTERVAL,
        count=4,
    ),
    "performance-lost-threshold": Q(
        "docs/performance.md",
        r"falls below ([\d.]+) \(MTCNN's last threshold\)",
        lambda: _face_detector("thresholds")[-1],
    ),
    "performance-min-iou": Q(
        "docs/performance.md",
        r"overlaps the previous one by IoU < ([\d.]+)",
        lambda: _signature_default(FaceTracker, "min_iou"),
    ),
    "performance-batches": Q(
        "docs/performance.md",
        r"\(default `batch_size=(\d+)`; the detector passes (\d+) frames per MTCNN call\)",
        lambda: (_d2ca_default("detect_aus", "batch_size"), _face_detector("batch_size")),
    ),
    "performance-min-face-size": Q(
        "docs/performance.md",
        r"which is why `FaceDetector` defaults to (\d+)",
        lambda: _face_detector("min_face_size"),
    ),
    "performance-update-clip-tensors": Q(
        "docs/performance.md",
        r"each of the (\d+) parameter tensors \((\d+) in the generator's update, (\d+) in the "
        r"discriminator's\)",
        _parameter_tensors,
    ),
    **{
        f"performance-update-clip-ops-{name}": Q(
            "docs/performance.md",
            rf"^\| {re.escape(row)} \| ([\d,]+) \|$",
            lambda name=name: f"{_update_clip('', name)['fp32']['optimizer_ops_per_step']:,}",
            str,
        )
        for name, row in (
            ("plain-adam", "plain Adam (single-tensor on the CPU: 9 a tensor)"),
            ("clipped-per-tensor", "`--update-clip`, tensor by tensor (a4f7bfa)"),
            ("clipped-foreach", "`--update-clip`, multi-tensor (now)"),
        )
    },
    "performance-update-clip-launches": Q(
        "docs/performance.md",
        r"for each of its (\d+) counted operators and (\d+) for the final scaling",
        lambda: (
            _update_clip("", "clipped-foreach")["fp32"]["optimizer_ops_per_step"]
            - _update_clip("", "plain-adam")["fp32"]["optimizer_ops_per_step"],
            _parameter_tensors()[0],
        ),
    ),
    "performance-update-clip-cpu": Q(
        "docs/performance.md",
        r"of a step ([\d.]+), ([\d.]+) and ([\d.]+) s clipped against ([\d.]+), ([\d.]+) and "
        r"([\d.]+) s plain, pair by pair ratios ([\d.]+) to ([\d.]+)\.",
        _update_clip_cpu,
        str,
    ),
    # --- docs/performance.md and training.md: the GPU runs' prose (JSONs, lent H200) -------
    "performance-h200-first-profile": Q(
        "docs/performance.md",
        r"([\d,]+) kernel launches per step, the GPU busy (\d+) ms of each (\d+) ms profiled step "
        r"\(idle (\d+)% of the time\)",
        lambda: (
            *(
                _gpu("/profile_bf16")[k]
                for k in ("kernel_launches_per_step", "device_busy_ms_per_step", "wall_ms_per_step")
            ),
            100 * _gpu("/profile_bf16")["gpu_idle_share"],
        ),
        str,
    ),
    "performance-h200-first-rate": Q(
        "docs/performance.md",
        r"\(`step_cpu_s` ([\d.]+) s\): the step is bound by launching kernels, not by arithmetic\. "
        r"It does ([\d.]+) TFLOP, (\d+) TFLOP/s, ([\d.]+)% of the (\d+) TFLOP/s a bf16",
        lambda: (
            _gpu_step("/train_step_bf16_nodiag", "step_cpu_s"),
            _gpu_step("/train_step_bf16_nodiag", "gflop_per_step") / 1000,
            _gpu_step("/train_step_bf16_nodiag", "gflop_per_s") / 1000,
            100 * _gpu("/train_step_bf16_nodiag")["d2ca_fraction_of_bf16_matmul"],
            _gpu("/train_step_bf16_nodiag")["matmul_bf16_gflop_per_s"] / 1000,
        ),
        str,
    ),
    "performance-h200-first-reads": Q(
        "docs/performance.md",
        r"The host reads (\d+) scalars and waits for the GPU (\d+) times a step",
        lambda: _gpu_fields(
            "/profile_bf16", "host_scalar_reads_per_step", "host_device_syncs_per_step"
        ),
        str,
    ),
    "performance-h200-first-bf16": Q(
        "docs/performance.md",
        r"(\d+)% faster with diagnostics on both \(([\d.]+) against ([\d.]+) s\)",
        lambda: (
            100 * (_gpu_step("/train_step_fp32") / _gpu_step("/train_step_bf16") - 1),
            _gpu_step("/train_step_bf16"),
            _gpu_step("/train_step_fp32"),
        ),
        str,
    ),
    "performance-h200-graphs-flop": Q(
        "docs/performance.md",
        r"The step does ([\d,]+) GFLOP \(FlopCounterMode, the same with and without graphs\), and "
        r"a bf16 `torch.mm` of 8192x8192 ran at (\d+) TFLOP/s in the same run\. Source-only "
        r"steps: ([\d.]+) s fp32, ([\d.]+) s bf16\.",
        lambda: (
            _gpu_step("-graphs/train_step_bf16_nodiag", "gflop_per_step"),
            _gpu("-graphs/train_step_bf16_graphs")["matmul_bf16_gflop_per_s"] / 1000,
            _gpu_step("-graphs/train_step_fp32_nodiag", run="source-only"),
            _gpu_step("-graphs/train_step_bf16_nodiag", run="source-only"),
        ),
        str,
    ),
    "performance-h200-graphs-idle": Q(
        "docs/performance.md",
        r"eager, ([\d,]+) launches and the GPU idle (\d+)% of the step; graphed, (\d+) launches "
        r"\(one `cudaGraphLaunch` and the input copies\) and the GPU idle ([\d.]+)%",
        lambda: (
            _gpu("-graphs/profile_bf16")["kernel_launches_per_step"],
            100 * _gpu("-graphs/profile_bf16")["gpu_idle_share"],
            _gpu("-graphs/profile_bf16_graphs")["kernel_launches_per_step"],
            100 * _gpu("-graphs/profile_bf16_graphs")["gpu_idle_share"],
        ),
        str,
    ),
    "performance-h200-graphs-busy": Q(
        "docs/performance.md",
        r"the GPU is busy ([\d.]+) ms of a ([\d.]+) ms profiled step: \*\*the step is now bound "
        r"by its kernels\*\*, ([\d,]+) of them, (\d+) µs each on average, at (\d+) TFLOP/s",
        lambda: (
            lambda p, flop: (
                p["device_busy_ms_per_step"],
                p["wall_ms_per_step"],
                p["device_kernels_per_step"],
                1000 * p["kernel_ms_per_step"] / p["device_kernels_per_step"],
                flop / p["device_busy_ms_per_step"],
            )
        )(
            _gpu("-graphs/profile_bf16_graphs"),
            _gpu_step("-graphs/train_step_bf16_nodiag", "gflop_per_step"),
        ),
        str,
    ),
    "performance-h200-graphs-speedup": Q(
        "docs/performance.md",
        r"Graphs made the bf16 step ([\d.]+)x faster and the fp32 step ([\d.]+)x\.",
        lambda: (
            _gpu_step("-graphs/train_step_bf16_nodiag")
            / _gpu_step("-graphs/train_step_bf16_graphs"),
            _gpu_step("-graphs/train_step_fp32_nodiag")
            / _gpu_step("-graphs/train_step_fp32_graphs"),
        ),
        str,
    ),
    "performance-h200-graphs-bf16": Q(
        "docs/performance.md",
        r"([\d.]+)x faster with graphs \(([\d.]+) against ([\d.]+) s\); ([\d.]+)x eagerly",
        lambda: (
            _gpu_step("-graphs/train_step_fp32_graphs")
            / _gpu_step("-graphs/train_step_bf16_graphs"),
            _gpu_step("-graphs/train_step_bf16_graphs"),
            _gpu_step("-graphs/train_step_fp32_graphs"),
            _gpu_step("-graphs/train_step_fp32_nodiag")
            / _gpu_step("-graphs/train_step_bf16_nodiag"),
        ),
        str,
    ),
    "performance-h200-graphs-bar": Q(
        "docs/performance.md",
        r"\(([\d.]+) s, ([\d,]+) images/s: ([\d.]+)x the 840 images/s the issue started from",
        lambda: (
            _gpu_step("-graphs/train_step_bf16_graphs"),
            _gpu_step("-graphs/train_step_bf16_graphs", "images_per_s"),
            _gpu_step("-graphs/train_step_bf16_graphs", "images_per_s") / 840,
        ),
        str,
    ),
    "performance-h200-resize": Q(
        "docs/performance.md",
        r"([\d.]+)x faster than `F.interpolate` in fp32 \(([\d.]+) against ([\d.]+) ms for forward "
        r"and backward of the four resizes at batch 128\), ([\d.]+)x in bf16",
        lambda: (
            *(
                _gpu("-graphs/resize_fp32")[k]
                for k in ("interpolate_over_matmul", "matmul_ms", "interpolate_ms")
            ),
            _gpu("-graphs/resize_bf16")["interpolate_over_matmul"],
        ),
        str,
    ),
    "training-h200-graphs": Q(
        "docs/training.md",
        r"an ordinary bf16 step took ([\d.]+) s with graphs against ([\d.]+) s without "
        r"\(([\d.]+)x; fp32: ([\d.]+) against ([\d.]+) s\), with the GPU idle (\d+)% of a graphed "
        r"step against (\d+)% of an eager one",
        lambda: (
            _gpu_step("-graphs/train_step_bf16_graphs"),
            _gpu_step("-graphs/train_step_bf16_nodiag"),
            _gpu_step("-graphs/train_step_bf16_nodiag")
            / _gpu_step("-graphs/train_step_bf16_graphs"),
            _gpu_step("-graphs/train_step_fp32_graphs"),
            _gpu_step("-graphs/train_step_fp32_nodiag"),
            100 * _gpu("-graphs/profile_bf16_graphs")["gpu_idle_share"],
            100 * _gpu("-graphs/profile_bf16")["gpu_idle_share"],
        ),
        str,
    ),
    "usage-h200-tracking": Q(
        "docs/usage.md",
        r"on one H200, (\d+) frames/s against (\d+) for per-frame detection",
        lambda: _gpu_fields("-graphs/detect_video_realistic", "track_k5_per_s", "pipeline_per_s"),
        str,
    ),
    "performance-h200-loop": Q(
        "docs/performance.md",
        r"logged ([\d.]+)-([\d.]+) steps/s after its first 20 steps \(`train_run_metrics.jsonl`\), "
        r"([\d.]+)-([\d.]+) s a step",
        lambda: _loop_rates(""),
        str,
    ),
    "performance-h200-graphs-loop": Q(
        "docs/performance.md",
        r"logged ([\d.]+)-([\d.]+) steps/s between its logs after step 20 "
        r"\(`train_run_metrics.jsonl`; [\d.]+-[\d.]+ without graphs above\), ([\d.]+)-([\d.]+) "
        r"s a step",
        lambda: _loop_rates("-graphs"),
        str,
    ),
    "performance-cpu-step-ab": Q(
        "docs/performance.md",
        r"medians of 3 steps: ([\d.]+), ([\d.]+), ([\d.]+) s after the changes against ([\d.]+), "
        r"([\d.]+), ([\d.]+) s before",
        _cpu_step_ab,
        str,
    ),
    "performance-tracking-batches": Q(
        "docs/performance.md",
        r"K = 5 went from ([\d.]+)x to ([\d.]+)x bare MTCNN by wall clock \(([\d.]+)x to "
        r"([\d.]+)x per CPU second\), per-frame `detect_aus` from ([\d.]+)x to ([\d.]+)x",
        lambda: tuple(
            _json(f"docs/performance/tracking-batches-cpu/{run}.json")[key]
            for key in ("track_k5_ratio_per_s", "track_k5_ratio_per_cpu_s", "ratio_per_s")
            for run in ("before", "after")
        ),
        str,
    ),
    **{
        f"prepare-box-{doc}": Q(
            f"docs/{doc}.md",
            r"MTCNN's box (\d+) x (\d+) px",
            lambda: tuple(_json("docs/performance/prepare_cpu.json")["face_box_px"]),
        )
        for doc in ("performance", "datasets")
    },
    "prepare-min-face-size": Q(
        "docs/performance.md",
        r"is ([\d.]+)x faster\. \(The figures this replaced",
        lambda: _prepare("workers=1") / _prepare("workers=1, min_face_size=80"),
        str,
    ),
    "datasets-reader-memory": Q(
        "docs/datasets.md",
        r"about (\d+) bytes each[\s\S]*?on ([\d,]+) and ([\d,]+) fixture records,\s+(\d+) and "
        r"(\d+) bytes;[\s\S]*?roughly ([\d.]+) GB",
        lambda: (
            round((_reader("bp4d") + _reader("affwild2")) / 2, -1),
            _reader("bp4d", "records"),
            _reader("affwild2", "records"),
            _reader("bp4d"),
            _reader("affwild2"),
            _json("docs/performance/reader_memory.json")["affwild2_full_gb"],
        ),
        str,
    ),
    "datasets-prepare-speed": Q(
        "docs/datasets.md",
        r"took ([\d.]+) ms a frame in one process and ([\d.]+) ms with `--workers 2`.* pyramid "
        r"levels of MTCNN, ([\d.]+) ms a frame \(([\d.]+)x faster\); keep 40 for Aff-Wild2\. A "
        r"rerun on the finished folder took ([\d.]+) s\.",
        lambda: (
            _prepare("workers=1"),
            _prepare("workers=2"),
            _prepare("workers=1, min_face_size=80"),
            _prepare("workers=1") / _prepare("workers=1, min_face_size=80"),
            _prepare("rerun on the finished folder", "seconds"),
        ),
        str,
    ),
    "training-channels-last": Q(
        "docs/training.md",
        r"the same computation up to float rounding, about (\d+)% less CPU time per step here",
        lambda: (
            100
            * (
                1
                - 1
                / _json("docs/performance/train_step_cpu.json")["nchw_vs_channels_last_cpu_time"]
            )
        ),
        str,
    ),
    # --- docs/performance.md: the CPU's detection prose (JSONs) ------------------------------
    "performance-cpu-resize": Q(
        "docs/performance.md",
        r"On the CPU the resize as matmuls is ([\d.]+)x faster than `F.interpolate` "
        r"\((\d+) against (\d+) ms at batch 32",
        lambda: tuple(
            _json("docs/performance/decoder_resize_cpu.json")[k]
            for k in ("interpolate_over_matmul", "interpolate_ms", "matmul_ms")
        ),
        str,
    ),
    "performance-phases": Q(
        "docs/performance.md",
        r"Importing facenet-pytorch costs ([\d.]+) s,.* full MTCNN took ([\d.]+) s of the video's "
        r"([\d.]+) s, O-Net's stretches ([\d.]+), the AU network ([\d.]+), alignment ([\d.]+), and "
        r"waiting for decoded frames ([\d.]+)\.",
        lambda: (
            lambda d: (
                d["first_row"]["phases_s"]["detector_built"]
                - d["first_row"]["phases_s"]["model_loaded"],
                *(
                    d["stages_s"][k]
                    for k in (
                        "full_mtcnn",
                        "detect_aus",
                        "onet_stretches",
                        "au_network",
                        "alignment",
                        "waiting_for_frames",
                    )
                ),
            )
        )(_json("docs/performance/detect_phases_cpu.json")),
        str,
    ),
    "performance-mtcnn-candidates": Q(
        "docs/performance.md",
        r"\*\*Candidates:\*\* ([\d.]+) crops a frame for R-Net and ([\d.]+) for O-Net",
        lambda: tuple(
            _json("docs/performance/mtcnn_stages_cpu.json")[k]
            for k in ("rnet_crops_per_frame", "onet_crops_per_frame")
        ),
        str,
    ),
    "performance-mtcnn-cpu-ratio": Q(
        "docs/performance.md",
        r"\(([\d.]+)x for the batched stages",
        lambda: _json("docs/performance/mtcnn_stages_cpu.json")["batched_over_facenet_per_s"],
        str,
    ),
    "performance-ops-waits": Q(
        "docs/performance.md",
        r"The batched crops wait ([\d.]+) times a frame, ([\d.]+) with tracking: (\d+)x and (\d+)x "
        r"fewer\.",
        lambda: (
            _detect_ops("host_reads_per_frame", "batched_per_frame"),
            _detect_ops("host_reads_per_frame", "batched_tracked_k5"),
            _detect_ops("host_reads_per_frame", "loop_per_frame")
            / _detect_ops("host_reads_per_frame", "batched_per_frame"),
            _detect_ops("host_reads_per_frame", "loop_tracked_k5")
            / _detect_ops("host_reads_per_frame", "batched_tracked_k5"),
        ),
        str,
    ),
    # --- docs/training.md: the objective's weights and marked choices ------------------
    **{
        f"training-weight-{name}": Q(
            "docs/training.md",
            rf"{symbol} = ([\d.]+)",
            lambda name=name: getattr(MODEL, name),
            count=count,
        )
        for symbol, name, count in (
            ("γ1", "gamma1", 1),
            ("γ2", "gamma2", 1),
            ("γ3", "gamma3", 1),
            ("γ4", "gamma4", 1),
            ("τ", "tau", 1),
            ("λ", "lambda_", 2),  # the rows of ICL and FCL
            ("α", "alpha", 1),
        )
    },
    "training-au-weight": Q(
        "docs/training.md",
        r"^\| `au_s` \|[^|\n]*\|[^|\n]*\| (\d+) \|$",
        lambda: MODEL.au_weight,
    ),
    # the table of marked choices (training.md), and each fix (starvation.md)
    "training-choice-aux-grad": Q(
        "docs/training.md",
        r"\| `aux_grad_e_au` \(model, `--set`\) \| (\S+) \|",
        lambda: MODEL.aux_grad_e_au,
    ),
    "starvation-fix-aux-grad": Q(
        "docs/starvation.md",
        r"marked choice, `aux_grad_e_au`, default (\d+); paper 1",
        lambda: MODEL.aux_grad_e_au,
    ),
    "training-choice-norm-stats": Q(
        "docs/training.md",
        r"\| `norm_stats` \(model, `--set`\) \| `(\"\w+\")` \|",
        lambda: MODEL.norm_stats,
    ),
    "starvation-fix-norm-stats": Q(
        "docs/starvation.md", r"\(`norm_stats`, default `(\"\w+\")`", lambda: MODEL.norm_stats
    ),
    "training-choice-rampup": Q(
        "docs/training.md",
        r"\| `au_t_rampup` \(train, `--au-t-rampup`\) \| (\d+) \|",
        lambda: TRAIN["au_t_rampup"],
    ),
    "starvation-fix-rampup": Q(
        "docs/starvation.md", r"`--au-t-rampup`, default (\d+) steps", lambda: TRAIN["au_t_rampup"]
    ),
    # --- docs/training.md: optimisation, warm-up, checkpoints, resume ------------------
    "training-lr": Q("docs/training.md", r"Adam, lr (\S+) \(paper\)", lambda: TRAIN["lr"]),
    "training-betas": Q(
        "docs/training.md", r"betas (\([\d.]+, [\d.]+\)) \(not stated", lambda: TRAIN["betas"]
    ),
    "training-batch": Q(
        "docs/training.md",
        r"Defaults are sized for a CPU: batch (\d+) per domain \(paper: 128\), P = (\d+)\.",
        lambda: (TRAIN["batch_size"], TRAIN["subjects"]),
    ),
    "training-subjects-default": Q(
        "docs/starvation.md", r"So `--subjects` defaults to (\d+) since", lambda: TRAIN["subjects"]
    ),
    "training-shipped-subjects": Q(
        "docs/starvation.md",
        r"the shipped checkpoint were\s+trained with `--subjects (\d+)`",
        lambda: _shipped_train("subjects"),
    ),
    "training-warmup-default": Q(
        "docs/training.md",
        r"`--warmup-steps K` \(default (\d+)\)",
        lambda: TRAIN["warmup_steps"],
    ),
    "training-shipped-warmup-routing": Q(
        "docs/training.md",
        r"shipped default checkpoint was trained without it \(`warmup_steps` (\d+)\) and with "
        r"the default routing \(`aux_grad_e_au=(\d+)`\)",
        lambda: (_shipped_train("warmup_steps"), _shipped("aux_grad_e_au")),
    ),
    "training-checkpoint-every": Q(
        "docs/training.md",
        r"Every `--checkpoint-every` steps \(default (\d+)\)",
        lambda: TRAIN["checkpoint_every"],
    ),
    "training-diagnose-every": Q(
        "docs/training.md",
        r"Every `--diagnose-every` steps \(default (\d+); 0 turns it off\)",
        lambda: TRAIN["diagnose_every"],
    ),
    "training-resume-changes": Q(
        "docs/training.md",
        r"options given again must agree with it, except ((?:`\w+`, )+`\w+`)",
        lambda: RESUMABLE_CHANGES,
        _names,
    ),
    "training-shared-aus": Q(
        "docs/training.md",
        r"BP4D-DISFA ((?:\d+, )*\d+)",
        lambda: shared_aus("bp4d", "disfa"),
    ),
    # --- docs/training.md: figures from the committed runs -----------------------------
    "training-gradients-step-1": Q(
        "docs/starvation.md",
        r"at step 1 of the paper's objective `L_au\^s` sends ([\d.]+), `L_au\^t` ([\d.]+), "
        r"`L_rep` ([\d.]+), `L_rec` ([\d.]+), ICL ([\d.]+), `L_ort` ([\d.]+), `L_adv` ([\d.]+);",
        lambda: tuple(
            _json("docs/starvation/paper400/full.json")["diagnostics"][0]["grad_norm"]["e_au"][k]
            for k in ("au_s", "au_t", "rep", "rec", "icl", "ort", "adv")
        ),
        str,
    ),
    **{
        f"training-starvation-{token}": Q(
            "docs/starvation.md",
            _starvation_row(token),
            lambda path=path: _starvation(path),
            str,
        )
        for token, path in (
            ("so-long", "so-long/source-only"),
            ("paper400", "paper400/full"),
            ("batchnorm400", "batchnorm400/full"),
            ("auw10", "auw10/full"),
            ("auw10-batch", "auw10-batch/full"),
            ("au-only-s", "au-only-s/au"),
            ("au-s-t", "au-s-t/au"),
            ("au-s-t-noC", "au-s-t-noC/au"),
            ("au+rep", "loi-batch/au+rep"),
            ("au+rec", "loi-batch/au+rec"),
            ("au+ort", "loi-batch/au+ort"),
            ("au+icl", "loi-batch/au+icl"),
            ("au+adv", "loi-batch/au+adv"),
            ("s01", "s01/full"),
            ("s0", "s0/full"),
        )
    },
    **{
        f"training-curve-{curve}": Q(
            "docs/starvation.md",
            rf"^\| {re.escape(pair)} \| {re.escape(method)} \| (.*)$",
            lambda curve=curve: _curve(curve),
            _cells,
        )
        for pair, method, curve in (
            ("lab-b -> lab-a", "Source only", "ba128-source-only-s0"),
            ("lab-b -> lab-a", "D2CA, default", "ba128-d2ca-s0"),
            ("wild -> lab-a", "Source only", "wa128-source-only-s0"),
            ("wild -> lab-a", "D2CA, default", "wa128-d2ca-s0"),
            ("lab-a -> wild", "Source only", "aw128-source-only-s0"),
            ("lab-a -> wild", "D2CA, default (the shipped checkpoint)", "aw128-d2ca-s0"),
        )
    },
    # --- docs/default-checkpoint.md ------------------------------------------------------
    "checkpoint-size": Q(
        "docs/default-checkpoint.md",
        r"`d2ca/pretrained/default/` \(([\d.]+) MiB:",
        lambda: sum(f.stat().st_size for f in (ROOT / "d2ca/pretrained/default").iterdir()) / 2**20,
        str,
    ),
    "checkpoint-batch": Q(
        "docs/default-checkpoint.md",
        r"batch (\d+) per domain \((\d+) subjects x (\d+) faces\)",
        lambda: (
            _shipped_train("batch_size"),
            _shipped_train("subjects"),
            _shipped_train("batch_size") // _shipped_train("subjects"),
        ),
    ),
    "checkpoint-run": Q(
        "docs/default-checkpoint.md",
        r"Adam lr (\S+), seed (\d+), (\d+) steps from a random start, (no) warm-up\.",
        lambda: (
            _shipped_train("lr"),
            _shipped_train("seed"),
            _provenance("steps"),
            "no" if _shipped_train("warmup_steps") == 0 else _shipped_train("warmup_steps"),
        ),
    ),
    "checkpoint-choices": Q(
        "docs/default-checkpoint.md",
        r"`aux_grad_e_au=(\d+)`, `norm_stats=(\"\w+\")`, and `L_au\^t` ramped up over (\d+) "
        r"steps",
        lambda: (
            _shipped("aux_grad_e_au"),
            _shipped("norm_stats"),
            _shipped_train("au_t_rampup"),
        ),
    ),
    "checkpoint-data": Q(
        "docs/default-checkpoint.md",
        r"(\d+) subjects x (\d+) frames each, (\d+)x\3",
        lambda: (
            *map(
                int,
                re.search(r"(\d+) subjects x (\d+) frames", _provenance("training_data")).groups(),
            ),
            _shipped("image_size"),
        ),
    ),
    "checkpoint-test-sizes": Q(
        "docs/default-checkpoint.md",
        r"on the `wild` test split \((\d+) faces\) and on the `lab-a` validation split "
        r"\((\d+) faces\)",
        lambda: tuple(_provenance("metrics")[s]["n"] for s in ("target_test", "source_val")),
    ),
    **{
        f"checkpoint-f1-{name}": Q(
            "docs/default-checkpoint.md",
            rf"^\| {re.escape(row)} \| (\d+\.\d \|.*)$",
            lambda name=name: _f1_row(f"docs/default-checkpoint/{name}.json"),
            _cells,
        )
        for row, name in (
            ("Source only", "source-only"),
            ("D2CA, the default", "d2ca"),
            ("Target only (wild labels)", "target-only"),
        )
    },
    "checkpoint-previous-default": Q(
        "docs/default-checkpoint.md",
        r"with a (\d+)-step warm-up, `d2ca-warmup300.json`\) scored ([\d.]+) / ([\d.]+)\.",
        lambda: (
            _json("docs/default-checkpoint/d2ca-warmup300.json")["warmup_steps"],
            *_f1_row("docs/default-checkpoint/d2ca-warmup300.json")[-2:],
        ),
        str,
    ),
    "checkpoint-gaps": Q(
        "docs/default-checkpoint.md",
        r"It is ([\d.]+) points lower on the target and ([\d.]+) lower on the source\.",
        lambda: tuple(
            a - b
            for a, b in zip(
                _f1_row("docs/default-checkpoint/source-only.json")[-2:],
                _f1_row("docs/default-checkpoint/d2ca.json")[-2:],
                strict=True,
            )
        ),
        str,
    ),
    **{
        f"checkpoint-curve-{curve}": Q(
            "docs/default-checkpoint.md",
            rf"^\| {re.escape(row)} \| ([\d.]+ / .*)$",
            lambda curve=curve: _curve(curve),
            _cells,
        )
        for row, curve in (
            ("Source only", "aw128-source-only-s0"),
            ("D2CA, the default", "aw128-d2ca-s0"),
            (
                "D2CA, first fix only (before this version; stopped at 300)",
                "aw128-d2ca-first-fix-s0",
            ),
        )
    },
    "checkpoint-without-au-t": Q(
        "docs/default-checkpoint.md",
        r"^\| D2CA without `L_au\^t` from step 700 \|(?: \|)* ([\d.]+) / ([\d.]+) \|$",
        lambda: _curve("aw128-d2ca-no-au-t-from700-s0")[-1],
        str,
    ),
    # --- the model card -------------------------------------------------------------------
    "card-source-row": Q(
        CARD, r"^\| source, validation \| (.*)$", lambda: _card_row("source_val"), _cells
    ),
    "card-target-row": Q(
        CARD, r"^\| target, held-out test split \| (.*)$", lambda: _card_row("target_test"), _cells
    ),
    "card-context": Q(
        CARD,
        r"Source only reaches ([\d.]+) average F1 on the target test split \(([\d.]+) on the "
        r"source validation split\) and Target only ([\d.]+); this checkpoint ([\d.]+) "
        r"\(([\d.]+)\)\.",
        lambda: (
            *_f1_row("docs/default-checkpoint/source-only.json")[-2:],
            _f1_row("docs/default-checkpoint/target-only.json")[-2],
            *_f1_row("docs/default-checkpoint/d2ca.json")[-2:],
        ),
        str,
    ),
    # --- docs/your-data.md ----------------------------------------------------------------
    "your-data-presets": Q(
        "docs/your-data.md",
        r"`--synth PRESET` \(((?:`[\w-]+`, )*`[\w-]+`)\)",
        lambda: frozenset(_presets()),
        _names,
    ),
    "your-data-report-faces": Q(
        "docs/your-data.md",
        r"at most `--report-faces`, default (\d+),",
        lambda: _cli("adapt", "report_faces"),
    ),
    "your-data-shipped-steps": Q(
        "docs/your-data.md",
        r"the shipped default trained (\d+) steps at batch (\d+)\)",
        lambda: (_provenance("steps"), _shipped_train("batch_size")),
    ),
    # --- docs/datasets.md -----------------------------------------------------------------
    "datasets-prepare-options": Q(
        "docs/datasets.md",
        r"`d2ca prepare DATASET ROOT --out DIR \[--size (\d+)\] \[--workers N\] "
        r"\[--device (\w+)\]`",
        lambda: (_cli("prepare", "size"), _cli("prepare", "device")),
    ),
    "datasets-max-side": Q(
        "docs/datasets.md",
        r"Frames are downscaled to `--max-side (\d+)` for detection only",
        lambda: _cli("prepare", "max_side"),
    ),
    "datasets-per-domain": Q(
        "docs/datasets.md",
        r"of up to `--per-domain (\d+)` faces per domain",
        lambda: _cli("plot tsne", "per_domain"),
    ),
    **{
        f"datasets-shared-aus-{a}-{b}": Q(
            "docs/datasets.md",
            rf"{re.escape(words)} ((?:\d+, )*\d+)[;.]",
            lambda a=a, b=b: shared_aus(a, b),
        )
        for words, a, b in (
            ("BP4D(+) and DISFA", "bp4d", "disfa"),
            ("BP4D(+) and GFT", "bp4d", "gft"),
            ("Aff-Wild2 and BP4D(+)", "affwild2", "bp4d"),
            ("Aff-Wild2 and GFT", "affwild2", "gft"),
        )
    },
    "datasets-bp4d-aus": Q(
        "docs/datasets.md",
        r"The 12 AUs used are ((?:\d+, )*\d+);",
        lambda: DATASET_AUS["bp4d"],
    ),
    "datasets-disfa-aus": Q(
        "docs/datasets.md",
        r"The eight AUs used (\((?:\d+, )*\d+\))",
        lambda: DATASET_AUS["disfa"],
    ),
    "datasets-gft-aus": Q(
        "docs/datasets.md", r"The 10 AUs are ((?:\d+, )*\d+)\.", lambda: DATASET_AUS["gft"]
    ),
    # --- docs/synthau.md --------------------------------------------------------------------
    "synthau-presets": Q(
        "docs/synthau.md",
        r"^\| factor \| (.*)$",
        lambda: tuple(f"`{name}`" for name in _presets()),
        _cells,
    ),
    **{
        f"synthau-preset-{label}": Q(
            "docs/synthau.md",
            rf"^\| {re.escape(label)} \| (.*)$",
            lambda format_=format_: _preset_row(format_),
            _cells,
        )
        for label, format_ in (
            (
                "yaw / pitch / roll std (°)",
                lambda p: (f"{p.yaw_std:g}", f"{p.pitch_std:g}", f"{p.roll_std:g}"),
            ),
            ("scale (log std) / shift std", lambda p: (f"{p.scale_std:g}", f"{p.shift_std:g}")),
            ("light direction spread (°)", lambda p: f"{p.light_spread:g}"),
            ("ambient share", lambda p: "{:g}-{:g}".format(*p.ambient)),
            ("light colour (std)", lambda p: f"{p.light_tint:g}"),
            ("exposure", lambda p: "{:g}-{:g}".format(*p.exposure)),
            ("cast shadow probability", lambda p: f"{p.shadow_prob:g}"),
            ("blur sigma (px at 128)", lambda p: "{:g}-{:g}".format(*p.blur)),
            ("noise std (8-bit levels)", lambda p: "{:g}-{:g}".format(*p.noise)),
            ("JPEG quality", lambda p: "{}-{}".format(*p.jpeg)),
            ("independent AU activation", lambda p: f"{p.au_noise:.2f}"),
        )
    },
    **{
        f"synthau-prototype-{name}": Q(
            "docs/synthau.md",
            rf"^\| {name} \| ([^|\n]*) \|$",
            lambda name=name: _prototype(name),
            str,
        )
        for name in (
            "neutral",
            "happy",
            "polite-smile",
            "surprise",
            "anger",
            "sadness",
            "disgust",
            "pain",
            "contempt",
            "lip-press",
            "doubt",
        )
    },
    "synthau-splits": Q(
        "docs/synthau.md",
        r"\(default (\d+) / (\d+) / (\d+), rounded\)",
        _synth_splits,
    ),
}


@pytest.mark.parametrize("name", QUOTES)
def test_doc_quotes_the_code(name: str) -> None:
    quote = QUOTES[name]
    matches = list(re.finditer(quote.pattern, _doc(quote.doc), re.M))
    assert len(matches) == quote.count, (
        f"{quote.doc}: {len(matches)} sentences match {quote.pattern!r}, not {quote.count}; "
        "if one was reworded, update the pattern (or the count) of this quote"
    )
    expected = quote.code()
    for m in matches:
        groups = [g for g in m.groups() if g is not None]
        found = tuple(map(quote.parse, groups)) if len(groups) > 1 else quote.parse(groups[0])
        assert _agrees(found, expected), (
            f"{quote.doc} says {m.group(0)!r}: {found!r}, but the code / committed files give "
            f"{expected!r}"
        )


# ------------------------------------------------------------------ L_au^t's ramp-up weights
K_SENTENCE = r"At K = \d+ it is"  # starvation.md's weights at the default K
RAMP_QUOTES = {  # (doc, pattern): w, the weight quoted at step s
    "training-ramp-start": (
        "docs/starvation.md",
        r"from (?P<w>[\d.]+) at step (?P<s>0) to 1 at step K",
    ),
    "training-ramp-a": ("docs/starvation.md", rf"{K_SENTENCE} (?P<w>[\d.]+) at step (?P<s>\d+),"),
    "training-ramp-b": (
        "docs/starvation.md",
        rf"{K_SENTENCE} [\d.]+ at step \d+, (?P<w>[\d.]+) at (?P<s>\d+) and",
    ),
    "training-ramp-c": (
        "docs/starvation.md",
        rf"{K_SENTENCE} [\d.]+ at step \d+, [\d.]+ at \d+ and (?P<w>[\d.]+) at (?P<s>\d+):",
    ),
    "training-ramp-sampler": (
        "docs/starvation.md",
        r"At step (?P<s>\d+) `L_au\^t`'s ramp-up weight is (?P<w>[\d.]+)",
    ),
    "checkpoint-ramp-end": (
        "docs/default-checkpoint.md",
        r"ramped up over \d+ steps \(so at most (?P<w>[\d.]+) of its weight by step (?P<s>\d+)\)",
    ),
    "checkpoint-ramp-a": (
        "docs/default-checkpoint.md",
        r"as `L_au\^t`'s weight ramps up \((?P<w>[\d.]+) at step (?P<s>\d+), [\d.]+ at \d+\)",
    ),
    "checkpoint-ramp-b": (
        "docs/default-checkpoint.md",
        r"as `L_au\^t`'s weight ramps up \([\d.]+ at step \d+, (?P<w>[\d.]+) at (?P<s>\d+)\)",
    ),
}


def test_ramp_up_length_quoted_with_the_weights() -> None:
    found = re.findall(r"At K = (\d+) it is", _doc("docs/starvation.md"))
    assert len(found) == 1, "docs/starvation.md: the sentence 'At K = ... it is' changed"
    assert int(found[0]) == TRAIN["au_t_rampup"] == _shipped_train("au_t_rampup")


@pytest.mark.parametrize("name", RAMP_QUOTES)
def test_quoted_ramp_up_weights(name: str) -> None:
    from d2ca.train.objective import rampup  # the trainer's own ramp, exp(-5 (1 - s/K)^2)

    doc, pattern = RAMP_QUOTES[name]
    matches = list(re.finditer(pattern, _doc(doc)))
    assert len(matches) == 1, f"{doc}: {len(matches)} sentences match {pattern!r}, not 1"
    m, length = matches[0], TRAIN["au_t_rampup"]
    weight = rampup(int(m["s"]), length)
    assert _agrees(m["w"], weight), (
        f"{doc}: L_au^t's weight at step {m['s']} is {weight:.3f} (K = {length}), not {m['w']}"
    )


# ------------------------------------------------------------------ claims about the defaults
SHIPPED_OBJECTIVE = ("aux_grad_e_au", "norm_stats", "au_weight", "feature_norm", "use_au_t")


def test_shipped_default_was_trained_with_the_default_objective() -> None:
    """README and training.md say the shipped checkpoint used the default objective: so its
    marked choices and training options are today's defaults."""
    assert "steps from a random start with the default objective" in _doc("README.md")
    assert "with the default routing" in _doc("docs/training.md")
    for key in SHIPPED_OBJECTIVE:
        assert _shipped(key) == getattr(MODEL, key), key
    # the sampler is not the objective: the shipped checkpoint's P x K (4 x 4) is quoted by
    # starvation.md ("training-shipped-subjects"), the default changed to 8 x 2 after it
    for key in ("warmup_steps", "au_t_rampup", "lr", "batch_size", "method"):
        assert _shipped_train(key) == TRAIN[key], key
    assert tuple(_shipped_train("betas")) == TRAIN["betas"]


@pytest.mark.parametrize("command", ["train", "adapt"])
def test_cli_help_quotes_the_config_defaults(command: str) -> None:
    """``--help`` texts that say "(default X)" where the option itself defaults to None (the
    config's default applies) agree with TrainConfig / D2CAConfig."""
    words = {"on": True, "off": False}
    checked = []
    for param in _command(command).params:
        m = re.search(r"\(default (\w[\w.+-]*)[;,).]", getattr(param, "help", None) or "")
        if not m or param.default is not None:
            continue
        quoted = words.get(m.group(1), _value(m.group(1)))
        code = TRAIN[param.name] if param.name in TRAIN else getattr(MODEL, param.name)
        assert quoted == code, f"d2ca {command} --help: {param.name} (default {m.group(1)})"
        checked.append(param.name)
    assert len(checked) >= 6, f"d2ca {command}: only {checked} quote a default; help reworded?"


# ------------------------------------------------------------------ swaps against the ideal ones
IDEAL = "docs/benchmark-synthetic/synthesis-ideal"
# the run each row label of synthesis.md's table names: its folder's prefix
IDEAL_RUNS = (("five times", "adv5-"), ("aux_grad_e_au", "aux1-"), ("decoder widths", "widedec-"),
              ("gamma3", "noadv-"),
              ("gamma2", "l2g15-"), ("rec_loss", "l2-"), ("gamma1", "g1x5-"),
              ("where the AUs act", "aumap10-"), ("", ""))  # fmt: skip


def _ideal_cells(figures: dict) -> list[str]:
    w, x = figures["within"], figures["cross_domain"]
    return [
        f"{100 * w['transfer']['avg_f1']['swapped']:.1f}",
        f"{w['ideal']['swap']['error']:.3f}",
        f"{w['ideal']['reconstruction']['au_moved']:.2f}",
        f"{w['ideal']['swap']['au_moved']:.2f}",
        f"{x['ideal']['swap']['error']:.3f}",
        f"{x['ideal']['swap']['au_moved']:.2f}",
    ]


def test_the_ideal_swap_table_is_the_jsons():
    doc = (ROOT / "docs/synthesis.md").read_text()
    start = doc.index("| run | step | swapped F1 | swap error |")
    rows = doc[start : doc.index("\n\n", start)].splitlines()[2:]
    assert len(rows) == 24
    for row in rows:
        name, step, *cells = (c.strip() for c in row.strip("|").split("|"))
        seed = re.search(r"seed (\d)", name).group(1)
        prefix = next(p for words, p in IDEAL_RUNS if words in name)
        figures = _json(f"{IDEAL}/{prefix}seed{seed}/step-{step}.json")
        assert cells == _ideal_cells(figures), name


def test_the_band_table_is_the_jsons():
    doc = (ROOT / "docs/synthesis.md").read_text()
    start = doc.index("  | decoder | faces | content made, per band")
    rows = doc[start : doc.index("\n\n", start)].splitlines()[2:]
    runs = {"D2CA's": "seed", "2,000": "probe-fresh-seed", "8,000": "probe-fresh-s8000-seed",
            "20,000": "probe-fresh-s20000-seed"}  # fmt: skip
    assert len(rows) == 17
    for row in rows:
        name, faces, *cells = (c.strip() for c in row.strip().strip("|").split("|"))
        if "default" in name:
            path = "docs/default-checkpoint/synthesis_quality.json"
        else:
            run = next(r for words, r in runs.items() if words in name)
            run += re.search(r"seed (\d)", name).group(1)
            path = f"{IDEAL}/{'train-split/' if faces == 'training' else ''}{run}/step-500.json"
        ideal = _json(path)["within"]["ideal"]
        rec = ideal["reconstruction"]
        bands = rec["bands"]
        assert cells == [
            " / ".join(f"{v:.2f}" for v in bands["content_made"]),
            " / ".join(f"{v:.2f}" for v in bands["au_change_energy"]),
            f"{bands['predicted_au_moved']:.2f}",
            f"{rec['au_moved_clean']:.2f}",
            f"{ideal['swap']['au_moved_clean']:.2f}",
        ], name


@pytest.mark.parametrize(
    ("header", "step", "n_rows"), [("decoder", 500, 21), ("decoder, step 1,000", 1000, 9)]
)
def test_the_decoder_structure_tables_are_the_jsons(header, step, n_rows):
    """synthesis.md's decoders that see the AU features at every scale or render the finest
    scale wider, at step 500 and trained on to 1,000: each row's cells from its
    synthesis_quality JSON (and, for the D2CA runs, its `d2ca evaluate` JSON on the target's
    test split)."""
    doc = (ROOT / "docs/synthesis.md").read_text()
    start = doc.index(f"  | {header} | seed | target F1 |")
    rows = doc[start : doc.index("\n\n", start)].splitlines()[2:]
    prefixes = (("D2CA, the grid's", "grid-"), ("D2CA, `dec_aux_au`", "auxau-"),
                ("D2CA, finest", "widefine-"), ("alone, the grid's", "probe-fresh-"),
                ("alone, `dec_aux_au`", "probe-auxau-"), ("alone, both", "probe-widefine-auxau-"),
                ("alone, finest", "probe-widefine-"))  # fmt: skip
    assert len(rows) == n_rows
    for row in rows:
        name, seed, *cells = (c.strip() for c in row.strip().strip("|").split("|"))
        prefix = next(p for words, p in prefixes if words in name)
        folder = f"docs/benchmark-synthetic/synthesis-decoder/{prefix}seed{seed}"
        figures = _json(f"{folder}/step-{step}.json")
        w, x = figures["within"], figures["cross_domain"]
        f1 = ""  # the probes keep their run's encoders and classifier: no F1 of their own
        if not prefix.startswith("probe"):
            evaluated = "target-test.json" if step == 500 else f"target-test-{step}.json"
            f1 = f"{100 * _json(f'{folder}/{evaluated}')['avg_f1']:.1f}"
        assert cells == [
            f1,
            f"{100 * w['transfer']['avg_f1']['swapped']:.1f}",
            f"{100 * x['transfer']['avg_f1']['swapped']:.1f}",
            f"{w['ideal']['reconstruction']['au_moved']:.2f}",
            f"{w['ideal']['swap']['au_moved']:.2f}",
            f"{x['ideal']['swap']['au_moved']:.2f}",
            f"{w['ideal']['reconstruction']['bands']['content_made'][0]:.2f}",
        ], name


def test_the_decoders_trained_alone_are_read_as_the_prose_says():
    """synthesis.md's reading of `dec_aux_au` trained alone: the oracles' F1 on its swaps
    and on the grid decoder's, means of the three probe seeds, and each seed's share of the
    AUs' change."""
    doc = " ".join((ROOT / "docs/synthesis.md").read_text().split())

    def read(prefix: str) -> tuple[str, str, str]:
        runs = [
            _json(f"docs/benchmark-synthetic/synthesis-decoder/{prefix}-seed{s}/step-500.json")
            for s in (0, 1, 2)
        ]
        within = [100 * r["within"]["transfer"]["avg_f1"]["swapped"] for r in runs]
        across = [100 * r["cross_domain"]["transfer"]["avg_f1"]["swapped"] for r in runs]
        share = sorted(f"{r['within']['ideal']['swap']['au_moved']:.2f}" for r in runs)
        return f"{sum(within) / 3:.1f}", f"{sum(across) / 3:.1f}", f"{share[0]}-{share[-1]}"

    (aw, ax, ashare), (gw, gx, gshare) = read("probe-auxau"), read("probe-fresh")
    assert (
        f"({aw} within and {ax} across on the mean of three seeds, against {gw} and {gx}), "
        f"but it makes {ashare} of the change, as the paper's does ({gshare})"
    ) in doc


def test_the_equal_steps_reading_is_the_jsons():
    """The reading of D2CA at the baselines' 2000 steps (docs/benchmark-synthetic.md) quotes
    the seed means at step 2000 of the equal-steps runs and of the grid's baselines."""
    doc = _doc("docs/benchmark-synthetic.md")

    def means(folder: str, method: str, key: str = "target_curve") -> list[str]:
        out = []
        for pair in ("wild_to_lab-a", "social_to_lab-a", "lab-b_to_lab-a", "lab-b_to_lab-c"):
            runs = sorted((ROOT / folder).glob(f"{pair}__{method}__seed*.json"))
            values = [dict(json.loads(p.read_text())[key])[2000] for p in runs]
            assert len(values) == 3, pair
            out.append(f"{100 * sum(values) / 3:.1f}")
        return out

    grid = "docs/benchmark-synthetic"
    d2ca, so, dann = (
        means(f"{grid}/equal-steps", "d2ca"),
        means(grid, "source-only"),
        means(grid, "dann"),
    )
    assert (
        f"D2CA ends at {d2ca[0]} (`wild`), {d2ca[1]} (`social`), {d2ca[2]} (`lab-b → lab-a`) "
        f"and {d2ca[3]} (`lab-b → lab-c`), against Source only's {', '.join(so[:3])} and "
        f"{so[3]} and DANN's {', '.join(dann[:3])} and {dann[3]}:" in doc
    )
    src_d2ca = means(f"{grid}/equal-steps", "d2ca", "source_curve")
    src_so = means(grid, "source-only", "source_curve")
    assert f"({src_d2ca[2]} and {src_d2ca[3]} against {src_so[2]} and {src_so[3]})" in doc


@pytest.mark.parametrize(
    ("label", "fork", "control", "source"),
    [
        ("w/o L_au^t", "noaut", None, "lab-b"),
        ("paper's routing", "aux1", "ctrl", "lab-b"),
        ("w/o L_au^t", "loo-noaut", "loo-ctrl", "wild"),
    ],
)
def test_the_fork_table_is_report_forks_output(capsys, monkeypatch, label, fork, control, source):
    """The tables of D2CA forked without L_au^t (against the equal-steps runs on the `lab-b`
    pairs, against paired unchanged forks on `wild`) and with the paper's routing of the
    gradients into E_au (docs/benchmark-synthetic.md) are what report_forks.py prints from
    the forks' committed logs."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks" / "synthau"))
    import report_forks

    folder = ROOT / "docs/benchmark-synthetic/forks"
    argv = [
        "report_forks.py",
        "--label",
        label,
        "--forks",
        f"{folder}/{fork}-{{pair}}-seed{{seed}}",
    ]
    if control:
        argv += ["--control", f"{folder}/{control}-{{pair}}-seed{{seed}}"]
    monkeypatch.setattr(sys, "argv", argv)
    report_forks.main()
    rows = capsys.readouterr().out.splitlines()[2:]  # below the header
    doc = (ROOT / "docs/benchmark-synthetic.md").read_text()
    pairs = 2 if source == "lab-b" else 1
    assert len(rows) == 3 * pairs and all(r.startswith(f"| {source}") for r in rows), rows
    assert all(f"  {r}\n" in doc for r in rows), rows


LAB_B = ("lab-b_to_lab-a", "lab-b_to_lab-c")


def _lab_b_means(folder: str, method: str, step: int = 2000, seeds=(0, 1, 2)) -> str:
    """Target-test F1 x100 at ``step`` of a folder's runs of the two ``lab-b`` pairs, the mean
    over ``seeds``, as the readings quote it: "X and Y"."""
    out = []
    for pair in LAB_B:
        runs = [ROOT / folder / f"{pair}__{method}__seed{s}.json" for s in seeds]
        values = [dict(json.loads(p.read_text())["target_curve"])[step] for p in runs]
        out.append(f"{100 * sum(values) / len(values):.1f}")
    return " and ".join(out)


def test_the_paper_network_reading_is_the_jsons():
    """The reading of the paper's network on the CPU grid (docs/benchmark-synthetic.md)
    quotes the seed means of its runs and of the grid's."""
    doc = _doc("docs/benchmark-synthetic.md")
    grid = "docs/benchmark-synthetic"
    means = _lab_b_means

    net = f"{grid}/paper-net"
    assert (
        f"Target only reaches {means(net, 'target-only')} (the grid's network: "
        f"{means(grid, 'target-only')}), Source only {means(net, 'source-only')} "
        f"({means(grid, 'source-only')}), DANN {means(net, 'dann')} ({means(grid, 'dann')}) "
        f"and D2CA at the same 2000 steps {means(f'{net}-equal-steps', 'd2ca')} "
        f"({means(f'{grid}/equal-steps', 'd2ca')})" in doc
    )
    assert (
        f"at step 500 D2CA is at {means(net, 'd2ca', 500)} against Source only's "
        f"{means(net, 'source-only', 500)}" in doc
    )
    screened = []
    for target in ("wild", "social"):
        runs = sorted((ROOT / net).glob(f"lab-a_to_{target}__target-only__seed*.json"))
        assert len(runs) == 3, target
        screened.append(sum(json.loads(p.read_text())["avg_f1"] for p in runs) / 3)
    assert (
        f"Target only with the paper's network reaches {100 * screened[0]:.1f} on `wild`, "
        f"{100 * screened[1]:.1f} on `social` (three seeds each)" in doc
    )


def test_the_batch_reading_is_the_jsons():
    """The reading of a batch of 64 on the CPU grid (docs/benchmark-synthetic.md) quotes the
    seed means of its baselines and of the grid's, and its D2CA run against Source only's of
    the same seed at the same step."""
    doc = _doc("docs/benchmark-synthetic.md")
    grid = "docs/benchmark-synthetic"
    b64, means = f"{grid}/batch-64", _lab_b_means
    assert (
        f"Source only ends at {means(b64, 'source-only')} (the grid's batch: "
        f"{means(grid, 'source-only')}), DANN at {means(b64, 'dann')} ({means(grid, 'dann')}) "
        f"and Target only at {means(b64, 'target-only')} ({means(grid, 'target-only')})" in doc
    )
    assert (
        f"at step 1000 D2CA scores {means(b64, 'd2ca', 1000)} against Source only's "
        f"{means(b64, 'source-only', 1000)} on the same seeds" in doc
    )

    def run(pair: str, method: str, seed: int) -> dict:
        return json.loads((ROOT / b64 / f"{pair}__{method}__seed{seed}.json").read_text())

    diffs, source, rises = [], {"d2ca": [], "source-only": []}, []
    for pair in LAB_B:
        for method in source:
            runs = [run(pair, method, s) for s in (0, 1, 2)]
            values = [100 * dict(r["source_curve"])[1000] for r in runs]
            source[method].append(f"{sum(values) / 3:.1f}")
        for s in (0, 1, 2):
            d2ca, so = run(pair, "d2ca", s), run(pair, "source-only", s)
            gap = dict(d2ca["target_curve"])[1000] - dict(so["target_curve"])[1000]
            diffs.append(f"{100 * gap:+.1f}")
            rises.append(d2ca["au_loss_rise"])
    assert (
        f"seed by seed {diffs[0]}, {diffs[1]} and {diffs[2]} on `lab-b → lab-a` and {diffs[3]}, "
        f"{diffs[4]} and {diffs[5]} on `lab-b → lab-c`" in doc
    )
    d2ca_src, so_src = source["d2ca"], source["source-only"]
    assert f"({d2ca_src[0]} and {d2ca_src[1]} against {so_src[0]} and {so_src[1]})" in doc
    assert f"D2CA's does not ({min(rises):.1f}-{max(rises):.1f}x)" in doc


def _fork_lines(name: str, kind: str) -> list[dict]:
    """The lines of one kind in a committed fork's log (docs/benchmark-synthetic/forks)."""
    log = ROOT / "docs/benchmark-synthetic/forks" / name / "metrics.jsonl"
    rows = [json.loads(x) for x in log.read_text().splitlines()]
    return [r for r in rows if r["kind"] == kind]


def _fork_gain(fork: str, control: str, pair: str, seed: int) -> str:
    """Target-test F1 x100 at step 2000 of a fork minus its control's, as the readings quote
    it, over the AUs the pair's equal-steps JSONs score."""
    equal = ROOT / f"docs/benchmark-synthetic/equal-steps/{pair}__d2ca__seed0.json"
    aus = json.loads(equal.read_text())["aus"]
    f1 = []
    for name in (fork, control):
        last = _fork_lines(f"{name}-{pair}-seed{seed}", "eval")[-1]
        assert last["step"] == 2000
        f1.append(100 * sum(last["target_test"]["f1"][a] for a in aus) / len(aus))
    return f"{f1[0] - f1[1]:+.1f}"


def test_the_routing_reading_is_the_fork_logs():
    """The reading of the paper's routing into E_au (docs/benchmark-synthetic.md) quotes, seed
    by seed, the forks' target F1 at step 2000 against their unchanged controls', and the
    spread of a_s at their last diagnostics, from the committed logs."""
    doc = _doc("docs/benchmark-synthetic.md")
    diffs = [_fork_gain("aux1", "ctrl", pair, seed) for pair in LAB_B for seed in (0, 1, 2)]
    spreads = {
        fork: [_fork_lines(f"{fork}-{pair}-seed{seed}", "diagnostics")[-1]
               for pair in LAB_B for seed in (0, 1, 2)]
        for fork in ("aux1", "ctrl")
    }  # fmt: skip
    assert (
        f"moves by {diffs[0]}, {diffs[1]} and {diffs[2]} on `lab-b → lab-a` and by {diffs[3]}, "
        f"{diffs[4]} and {diffs[5]} on `lab-b → lab-c`" in doc
    )
    spread = {k: sorted(r["spread"]["a_s"] for r in v) for k, v in spreads.items()}
    assert (
        f"falls to {spread['aux1'][0]:.2f}-{spread['aux1'][-1]:.2f} (the control's: "
        f"{spread['ctrl'][0]:.2f}-{spread['ctrl'][-1]:.2f};" in doc
    )


def test_the_wild_leave_one_out_reading_is_the_fork_logs():
    """The reading of the L_au^t leave-one-out on `wild → lab-a` (docs/benchmark-synthetic.md)
    quotes, seed by seed, the forks' target F1 at step 2000 and averaged from step 1500 to
    2000 against their unchanged controls', the same average on the `lab-b` pairs, and L_au^t's
    pull on E_au against L_au^s's in the controls, from the committed logs."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks" / "synthau"))
    from report_data import load_results
    from report_forks import GRID, forks, grad_ratio, late_mean
    from report_sampler import _by_seed

    doc = _doc("docs/benchmark-synthetic.md")
    pair = "wild_to_lab-a"
    diffs = [_fork_gain("loo-noaut", "loo-ctrl", pair, seed) for seed in (0, 1, 2)]
    mean = statistics.fmean(float(d) for d in diffs)  # within rounding of the unrounded mean
    assert (
        f"Without `L_au^t` the target F1 at step 2000 moves by {diffs[0]}, {diffs[1]} and "
        f"{diffs[2]} against the same run unchanged (seeds 0-2; mean {mean:+.1f})" in doc
    )

    equal, _ = load_results(GRID / "equal-steps")
    late = {}  # pair -> the fork's late mean minus its control's, seed by seed, x100
    for name, fork, control in (
        ("lab-b_to_lab-a", "noaut", None),
        ("lab-b_to_lab-c", "noaut", None),
        (pair, "loo-noaut", "loo-ctrl"),
    ):
        runs = equal[tuple(name.split("_to_"))]["d2ca"]
        pattern = str(GRID / "forks" / "{}-{{pair}}-seed{{seed}}")
        ours = late_mean(_by_seed(forks(pattern.format(fork), name, runs), "target_curve"))
        theirs = forks(pattern.format(control), name, runs) if control else runs
        base = late_mean(_by_seed(theirs, "target_curve"))
        late[name] = [100 * (ours[s][0] - base[s][0]) for s in (0, 1, 2)]
    wild = late[pair]
    assert (
        f"the moves are {wild[0]:+.1f}, {wild[1]:+.1f} and {wild[2]:+.1f} "
        f"(mean {statistics.fmean(wild):+.1f})" in doc
    )
    means = [f"{statistics.fmean(v):+.1f}" for v in late.values()]
    every = [x for v in late.values() for x in v]
    assert (
        f"moves the mean from step 1500 to 2000 by {means[0]}, {means[1]} and {means[2]} points "
        f"(seed means; {min(every):+.1f} to {max(every):+.1f} seed by seed)" in doc
    )

    forks_dir = GRID / "forks"
    pulls = [f"{grad_ratio(forks_dir / f'loo-ctrl-{pair}-seed{s}'):.2f}" for s in (0, 1, 2)]
    lab_b = sorted(grad_ratio(forks_dir / f"ctrl-{p}-seed{s}") for p in LAB_B for s in (0, 1, 2))
    assert (
        f"after step 1000: {pulls[0]}, {pulls[1]} and {pulls[2]}; on the `lab-b` pairs, in the "
        f"unchanged runs of the routing forks below, {lab_b[0]:.2f}-{lab_b[-1]:.2f}," in doc
    )


def test_the_wild_translation_reading_is_its_json():
    """The AU evidence in the translated faces of the `wild → lab-a` leave-one-out runs
    (docs/benchmark-synthetic.md) is what translation_quality.py wrote: seed means at step
    500, at step 2000 with and without L_au^t, the untranslated faces, and seed 0's best."""
    doc = _doc("docs/benchmark-synthetic.md")
    path = ROOT / "docs/benchmark-synthetic/forks/translation/wild_to_lab-a.json"
    data = json.loads(path.read_text())
    f1 = {k: 100 * v["au_transfer"]["avg_f1"] for k, v in data["models"].items()}

    def mean(tag: str) -> str:
        values = [v for k, v in sorted(f1.items()) if tag in k]
        assert len(values) == 3, tag
        return f"{sum(values) / 3:.1f}"

    ctrl0 = next(v for k, v in f1.items() if "loo-ctrl-wild_to_lab-a-seed0" in k)
    source = 100 * data["reference"]["au_oracle_on_source"]["avg_f1"]
    assert (
        f"they carry {mean('steps500')} F1 of the AU donors' labels at step 500, "
        f"{mean('loo-ctrl')} at step 2000 unchanged and {mean('loo-noaut')} without `L_au^t` "
        f"(seed means), against {source:.1f} in the untranslated source faces" in doc
    )
    assert f"({ctrl0:.1f} on seed 0)" in doc


def test_the_lab_b_translation_reading_is_its_jsons():
    """The AU evidence in the translated faces of the routing forks' runs on the `lab-b`
    pairs (docs/benchmark-synthetic.md): seed means at step 500, at step 2000 unchanged and
    with the paper's routing, against the untranslated faces, as translation_quality.py
    wrote them."""
    doc = _doc("docs/benchmark-synthetic.md")
    means: dict[str, list[str]] = {"steps500": [], "ctrl": [], "aux1": [], "source": []}
    for pair in LAB_B:
        path = ROOT / f"docs/benchmark-synthetic/forks/translation/{pair}.json"
        data = json.loads(path.read_text())
        for tag in ("steps500", "ctrl", "aux1"):
            values = [v["au_transfer"]["avg_f1"] for k, v in data["models"].items() if tag in k]
            assert len(values) == 3, (pair, tag)
            means[tag].append(f"{100 * sum(values) / 3:.1f}")
        means["source"].append(f"{100 * data['reference']['au_oracle_on_source']['avg_f1']:.1f}")
    m = {k: " and ".join(v) for k, v in means.items()}
    assert (
        f"the translated faces carry {m['ctrl']} at step 2000 ({m['steps500']} at step 500) "
        f"against {m['source']} in the untranslated ones" in doc
    )
    assert f"carry less of the AU donors' labels too: {m['aux1']} F1 against the" in doc
    assert f"unchanged runs' {m['ctrl']} (the oracles above" in doc


def test_the_baseline_spike_reading_is_the_rerun(capsys):
    """The stability reading of the baselines (docs/stability.md) quotes the rises of L_au^s
    in the grid trained again on today's code, the spikes' steps and lows from the committed
    logs, report_beta1.py's tables for Source only and DANN, and their beta1 gains."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks" / "synthau"))
    import report_beta1
    from report_data import SPIKE, load_results
    from run_table import au_loss_log

    doc, grid = _doc("docs/stability.md"), ROOT / "docs" / "benchmark-synthetic"
    rerun, _ = load_results(grid / "rerun")
    other, _ = load_results(grid / "beta1-0.9")
    d2ca = [r["au_loss_rise"] for p in rerun.values() for r in p["d2ca"]]
    assert f"No D2CA run rises 10x in its 500 steps ({min(d2ca):.1f}-{max(d2ca):.1f}x)" in doc
    trained = {}  # each trained run once: Source only is one run on both lab-b targets
    for (source, target), methods in rerun.items():
        for m in ("source-only", "dann"):
            for r in methods[m]:
                trained[_run_key(f"{source}_to_{target}__{m}__seed{r['seed']}")] = r["au_loss_rise"]
    spikes = {k: v for k, v in trained.items() if v >= SPIKE}
    assert (len(spikes), len(trained)) == (7, 21) and "7 of the 21 baseline runs do" in doc
    wild = [v for k, v in spikes.items() if k[1] == "wild"]
    assert len(wild) == 6 and f"all six from `wild` ({min(wild):.1f}-{max(wild):.1f}x)" in doc
    social = [v for k, v in spikes.items() if k[1] == "social"]
    assert [k for k in spikes if k[1] == "social"] == [("dann", "social", "lab-a", 2)]
    assert f"one DANN run from `social` ({social[0]:.1f}x)" in doc
    steps, lows = [], []
    for run in sorted((grid / "rerun" / "logs").iterdir()):
        low, best = float("inf"), (0.0, 0, 0.0)
        for step, value in au_loss_log(run):  # run_table.au_loss_rise, with its step
            if step > 100 and value / low > best[0]:
                best = (value / low, step, low)
            low = min(low, value)
        assert best[0] == pytest.approx(spikes[_run_key(run.name)]), run.name
        steps.append(best[1])
        lows.append(best[2])
    assert len(steps) == 7
    assert (
        f"between steps {min(steps)} and {max(steps)} of its 2000, from a low of "
        f"{min(lows):.3f}-{max(lows):.3f}" in doc
    )

    base = ["--base", str(grid / "rerun"), "--other", str(grid / "beta1-0.9")]
    for method in ("source-only", "dann"):
        report_beta1.main([*base, "--method", method, "--runs", str(ROOT / "no-runs")])
        table = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")]
        assert len(table) == 10 and all(ln in doc for ln in table), method
    gains, above = {}, 0
    for m in ("source-only", "dann"):
        gains[m] = []
        for pair in (
            ("wild", "lab-a"),
            ("social", "lab-a"),
            ("lab-b", "lab-a"),
            ("lab-b", "lab-c"),
        ):
            a, b = ([r["avg_f1"] for r in f[pair][m]] for f in (rerun, other))
            above += sum(y >= x for x, y in zip(a, b, strict=True))
            gain = f"{100 * (statistics.fmean(b) - statistics.fmean(a)):+.1f}"
            gains[m].append("0.0" if gain in ("+0.0", "-0.0") else gain)
    so, dann = gains["source-only"], gains["dann"]
    assert f"at or above their target F1 at 0.5 in {above} of 24 pair-seeds" in doc
    assert (
        f"Source only by {so[0]} (`wild`), {so[1]} (`social`), {so[2]} and {so[3]} (the `lab-b` "
        f"pairs), DANN by {dann[0]}, {dann[1]}, {dann[2]} and {dann[3]}," in doc
    )
    rises = [r["au_loss_rise"] for p in other.values() for m in ("source-only", "dann")
             for r in p.get(m, [])]  # fmt: skip
    assert max(rises) < SPIKE and f"(7.3x and {max(rises):.1f}x," in doc


def _run_key(name: str) -> tuple:
    """``wild_to_lab-a__dann__seed2`` -> the key of its trained run in the test above."""
    pair, method, seed = name.split("__")
    source, target = pair.split("_to_")
    where = (source,) if method == "source-only" else (source, target)
    return (method, *where, int(seed.removeprefix("seed")))


def test_the_rerun_reading_is_the_jsons():
    """The reading of the grid trained again on today's code (docs/benchmark-synthetic.md)
    quotes its commit, the mean distance of a run from its twin against the seeds' spread,
    and D2CA's share of each gap both ways, from the committed JSONs."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks" / "synthau"))
    from report_data import D2CA_VARIANTS, SPIKE, avg, load_results, table_viii_order

    doc, grid = _doc("docs/benchmark-synthetic.md"), ROOT / "docs" / "benchmark-synthetic"
    runs, _ = load_results(grid)
    again, _ = load_results(grid / "rerun")
    codes = {r["code"] for p in again.values() for rs in p.values() for r in rs}
    assert "trained again at commit 9c1cd41 (" in doc and "9c1cd41" in codes
    pairs = [("wild", "lab-a"), ("lab-b", "lab-a"), ("social", "lab-a"), ("lab-b", "lab-c")]

    def closed(folder: dict) -> list[str]:
        shares = []
        for pair in pairs:
            lo, hi, d2ca = (statistics.fmean(avg(folder[pair][m]))
                            for m in ("source-only", "target-only", "d2ca"))  # fmt: skip
            shares.append(f"{100 * (d2ca - lo) / (hi - lo):.0f}%")
        return shares

    now, then = closed(again), closed(runs)
    assert (
        f"D2CA closes {now[0]}, {now[1]}, {now[2]} and {now[3]} of the gaps (the grid: "
        f"{then[0]}, {then[1]}, {then[2]} and {then[3]})" in doc
    )
    for pair in pairs:  # DANN the best adaptation method again, Table VIII's order on none
        means = {m: statistics.fmean(avg(again[pair][m])) for m in ("dann", *D2CA_VARIANTS)}
        assert means["dann"] > max(means[m] for m in D2CA_VARIANTS), pair
        assert table_viii_order(again[pair]) == "no", pair
    variants = [r["au_loss_rise"] for p in again.values() for m in D2CA_VARIANTS for r in p[m]]
    assert len(variants) == 36 and max(variants) < SPIKE
    assert "none of the 36 runs of the D2CA variants does" in doc
    # each scored run once (Target only on lab-a is one run whatever the source)
    moved, spread = {}, []
    for (source, target), methods in again.items():
        for m, rs in methods.items():
            twins = {r["seed"]: r for r in runs[(source, target)][m]}
            where = target if m == "target-only" else (source, target)
            for r in rs:
                moved[(m, where, r["seed"])] = abs(r["avg_f1"] - twins[r["seed"]]["avg_f1"])
            spread += [statistics.stdev(avg(x)) for x in (rs, runs[(source, target)][m])]
    distance = 100 * statistics.fmean(moved.values())
    assert (
        f"a run lands {distance:.1f} points from its twin on average, as far as another seed "
        f"would ({100 * statistics.fmean(spread):.1f})" in doc
    )


# ------------------------------------------------------------------ links between the pages
def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize(
    "page", ["README.md", "CHANGELOG.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))]
)
def test_relative_links_resolve(page: str) -> None:
    """Every relative link of README, CHANGELOG and docs/*.md names a file of the repository
    and, with ``#anchor``, a heading of that page (pages move: docs/training.md's studies)."""
    path = ROOT / page if (ROOT / page).exists() else ROOT / "docs" / page
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        linked = path.parent / file if file else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", linked.read_text(), re.M)
            if anchor not in map(_anchor, headings):
                broken.append(target)
    assert not broken, f"{page}: links to nothing: {broken}"


# ------------------------------------------------------------------ performance.md's tables
PERF = "docs/performance/"
H200, GRAPHS = f"{PERF}gpu-h200/", f"{PERF}gpu-h200-graphs/"


def _table_after(marker: str, doc: str = "docs/performance.md") -> dict[str, tuple[str, ...]]:
    """The table whose header is ``marker``, or else the first one after it: its rows' cells,
    keyed by the first cell, with bold, thousands separators, ``%`` and a trailing ``x``
    dropped (``"**1,839**"`` -> ``"1839"``)."""
    text = (ROOT / doc).read_text()
    start = text.index(marker)
    start = start if marker.startswith("|") else text.index("\n|", start) + 1
    rows = text[start : text.index("\n\n", start)].splitlines()[2:]
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    clean = lambda c: re.sub(r"(?<=\d)x$", "", re.sub(r"[*,%]| %", "", c)).strip()  # noqa: E731
    return {c[0]: tuple(map(clean, c[1:])) for c in cells}


def _assert_sentences(doc: str, expected: dict[str, Any]) -> None:
    """Each pattern is found in ``doc`` and its groups agree with the value beside it."""
    text = _doc(doc)
    for pattern, value in expected.items():
        m = re.search(pattern, text)
        assert m, f"{doc}: no sentence matches {pattern!r}"
        found = m.groups() if len(m.groups()) > 1 else m[1]
        assert _agrees(found, value), (pattern, found, value)


def _assert_row(table: dict, label: str, expected: tuple) -> None:
    """The row's first cells agree with ``expected``, each to the precision it is printed to."""
    quoted = table[label][: len(expected)]
    assert _agrees(quoted, expected), f"{label!r}: the doc says {quoted}, the JSONs {expected}"


@pytest.mark.parametrize("video", ["realistic", "rendered_drift"])
def test_the_tracking_tables_are_the_jsons(video: str) -> None:
    d = _json(f"{PERF}detect_video_{video}_cpu.json")
    table = _table_after(f"`docs/performance/detect_video_{video}_cpu.json`):")
    assert len(table) == 5
    _assert_row(table, "bare MTCNN, 8 frames per call",
                (d["mtcnn_b8_per_s"], d["mtcnn_b8_per_cpu_s"], 1, 1))  # fmt: skip
    _assert_row(table, "`detect_aus`, per-frame detection",
                (d["pipeline_per_s"], d["pipeline_per_cpu_s"], d["ratio_per_s"],
                 d["ratio_per_cpu_s"], *(100 * x for x in d["per_frame_truth"])))  # fmt: skip
    for k in (5, 10, 25):
        label = next(r for r in table if re.search(rf"tracking, K = {k}\b", r))
        t = f"track_k{k}_"
        _assert_row(table, label,
                    (d[f"{t}per_s"], d[f"{t}per_cpu_s"], d[f"{t}ratio_per_s"],
                     d[f"{t}ratio_per_cpu_s"], *(100 * x for x in d[f"{t}truth"]),
                     *(100 * x for x in d[f"{t}per_frame"])))  # fmt: skip


def test_the_h200_detection_table_is_the_json() -> None:
    d = _json(f"{GRAPHS}detect_video_realistic.json")
    assert d["gpu_name"] == "NVIDIA H200"
    table = _table_after("### On a GPU: one NVIDIA H200\n\n`benchmarks/detect_video.py")
    bare = d["mtcnn_b32_per_s"]
    _assert_row(table, "bare facenet-pytorch MTCNN, 32 frames a call", (bare, 1))
    _assert_row(table, "bare MTCNN, `min_face_size=20`, 32 frames a call",
                (d["mtcnn_min20_per_s"], d["mtcnn_min20_per_s"] / bare))  # fmt: skip
    _assert_row(table, "`detect_aus`, per-frame detection", (d["pipeline_per_s"], d["ratio_per_s"]))
    _assert_row(table, "`detect_aus`, tracking, K = 5 (default)",
                (d["track_k5_per_s"], d["track_k5_ratio_per_s"]))  # fmt: skip
    for batch in (64, 1):
        label = f"AU network alone, {batch} face{'s' * (batch > 1)} a call"
        assert table[label][0] == f"{d[f'au_net_b{batch}_per_s']:.0f} faces/s", label


def test_the_h200_step_tables_are_the_jsons() -> None:
    """The two training-step tables of the H200 runs, and the share of the bf16 matmul rate."""
    first = _table_after("| `benchmarks/train_step.py --device cuda --batch 128 ...` |")
    for label, name in (("fp32, diagnostics on every timed step", "fp32"),
                        ("`--bf16`, diagnostics on every timed step", "bf16"),
                        ("`--bf16 --no-diagnostics`", "bf16_nodiag")):  # fmt: skip
        d = _json(f"{H200}train_step_{name}.json")
        step, so = d["d2ca"], d["source-only"]
        row = next(r for r in first if r.startswith(label))
        _assert_row(first, row, (step["step_s"], step["images_per_s"], step["peak_gib"],
                                 so["step_s"], step["step_s"] / so["step_s"]))  # fmt: skip
    graphs = _table_after("| `benchmarks/train_step.py --device cuda --batch 128 --no-diagnostics")
    gflop = _json(f"{GRAPHS}train_step_bf16_nodiag.json")["d2ca"]["gflop_per_step"]
    for label, name in (("fp32, eager", "fp32_nodiag"), ("`--bf16`, eager", "bf16_nodiag"),
                        ("fp32, `--cuda-graphs`", "fp32_graphs"),
                        ("`--bf16 --cuda-graphs`", "bf16_graphs")):  # fmt: skip
        d = _json(f"{GRAPHS}train_step_{name}.json")
        s = d["d2ca"]
        share = 100 * gflop / s["step_s"] / d["matmul_bf16_gflop_per_s"]
        _assert_row(graphs, label, (s["step_s"], s["images_per_s"], s["peak_gib"], share))


def test_the_cpu_detection_tables_are_the_jsons() -> None:
    """Time to the first row, MTCNN's batched stages, and the operators counted a frame."""
    phases = _json(f"{PERF}detect_phases_cpu.json")["first_row"]["phases_s"]
    table = _table_after("| phase | s since launch |")
    assert len(table) == 6
    for label, key in zip(table, list(phases)[1:], strict=True):
        _assert_row(table, label, (phases[key],))
    m = _json(f"{PERF}mtcnn_stages_cpu.json")
    table = _table_after("| | frames/s, wall | frames per CPU s |")
    _assert_row(
        table, "facenet-pytorch `MTCNN.detect`", (m["facenet_per_s"], m["facenet_per_cpu_s"])
    )
    _assert_row(
        table, "batched stages (`detect_faces`)", (m["batched_per_s"], m["batched_per_cpu_s"])
    )
    ops = _json(f"{PERF}detect_ops_cpu.json")
    table = _table_after("| per frame | operators | host reads |")
    for key, row in zip(("batched_per_frame", "batched_tracked_k5", "loop_per_frame",
                         "loop_tracked_k5"), table, strict=True):  # fmt: skip
        quoted = (table[row][0], table[row][1].split()[0])  # "1.3 (`nonzero`: ...)" -> "1.3"
        assert _agrees(quoted, (ops[key]["ops_per_frame"], ops[key]["host_reads_per_frame"])), row


def test_the_prepare_table_is_the_json() -> None:
    table = _table_after("| run | s | ms a frame |")
    rows = {"one process (torch's 2 threads)": "workers=1",
            "`--workers 2` (one thread each)": "workers=2",
            "one process, `--min-face-size 80`": "workers=1, min_face_size=80"}  # fmt: skip
    for label, run in rows.items():
        _assert_row(table, label, (_prepare(run, "seconds"), _prepare(run)))
    rerun = _json(f"{PERF}prepare_cpu.json")["runs"]["rerun on the finished folder"]
    assert rerun["computed"] == 0 and rerun["reused"] == 1000
    _assert_row(table, "again on the finished folder (nothing left to do)", (rerun["seconds"],))


def test_the_reader_memory_table_is_the_json() -> None:
    table = _table_after("| reader | records | bytes a record (held) |")
    for label, reader in {"BP4D": "bp4d", "Aff-Wild2": "affwild2"}.items():
        keys = ("records", "bytes_per_record", "peak_bytes_per_record")
        _assert_row(table, label, tuple(_reader(reader, k) for k in keys))
    _assert_sentences("docs/performance.md", {
        r"labelled frames need about ([\d.]+) GB of records":
            _json(f"{PERF}reader_memory.json")["affwild2_full_gb"],
    })  # fmt: skip


def test_the_detection_pipeline_section_is_the_json() -> None:
    d = _json(f"{PERF}detect_pipeline_cpu.json")
    table = _table_after("| mode | frames/s, wall | frames per CPU s |\n")
    rows = {
        "`detect_aus`, full MTCNN on every frame": "pipeline",
        "bare MTCNN, 1 frame a call": "mtcnn",
        "bare MTCNN, 8 frames a call (the pipeline's)": "mtcnn_b8",
        "bare MTCNN at its default `min_face_size=20`, 1 frame a call": "mtcnn_min20",
    }
    assert list(table) == list(rows)
    for label, key in rows.items():
        _assert_row(table, label, (d[f"{key}_per_s"], d[f"{key}_per_cpu_s"]))
    _assert_sentences("docs/performance.md", {
        r"The pipeline runs at ([\d.]+) of the faster bare MTCNN's frame rate by wall clock "
        r"\(([\d.]+) per CPU second\)": (d["ratio_per_s"], d["ratio_per_cpu_s"]),
        r"takes (\d+) faces/s one at a time and (\d+) faces/s at batch 64":
            (d["au_net_b1_per_s"], d["au_net_b64_per_s"]),
        r"`ru_maxrss`: (\d+) MiB for the 90 frames and (\d+) MiB for a video ten":
            (d["peak_rss_mib"], d["peak_rss_mib_10x"]),
    })  # fmt: skip


def test_the_corpus_section_is_the_json() -> None:
    d, short = _json(f"{PERF}corpus_cpu.json"), _json(f"{PERF}corpus_short_cpu.json")
    assert (d["videos"], d["frames_per_video"], short["frames_per_video"]) == (20, 150, 30)
    table = _table_after("| workers | threads each | frames/s (wall) |")
    for w in (1, 2):
        _assert_row(table, str(w), (d[f"workers{w}_threads"], d[f"workers{w}_frames_per_s"]))
    _assert_sentences("docs/performance.md", {
        r"Two workers are ([\d.]+)x one on two cores.* two workers ran at ([\d.]+) frames/s "
        r"against one's ([\d.]+)\.": (d["scaling"], short["workers2_frames_per_s"],
                                      short["workers1_frames_per_s"]),
    })  # fmt: skip
    _assert_sentences("docs/usage.md", {r"\(two workers: ([\d.]+)x": d["scaling"]})


def test_the_rendering_section_is_the_json() -> None:
    rows = _json(f"{PERF}synth_speed_cpu.json")["rows"]
    text = (ROOT / "docs/performance.md").read_text()
    start = text.index("| preset | size | render_face img/s (wall / CPU) |")
    table = text[start : text.index("\n\n", start)].splitlines()[2:]
    assert len(table) == len(rows)
    for line, r in zip(table, rows, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:2] == [r["preset"], str(r["size"])]
        quoted = tuple(x.strip() for c in cells[2:] for x in c.split("/"))
        assert _agrees(quoted, tuple(r[f"render_{k}"] for k in
                                     ("face_per_s", "face_per_cpu_s", "dataset_per_s",
                                      "dataset_per_cpu_s"))), line  # fmt: skip
    ms = {size: 1000 * statistics.fmean(1 / r["render_face_per_cpu_s"] for r in rows
                                        if r["size"] == size) for size in (64, 128)}  # fmt: skip
    dataset = 600 * statistics.fmean(1 / r["render_dataset_per_cpu_s"] for r in rows
                                     if r["size"] == 128)  # fmt: skip
    m = re.search(r"About (\d+) ms of CPU per 64x64 face and (\d+) ms per 128x128 face.* "
                  r"takes about (\d+) s of CPU", _doc("docs/performance.md"))  # fmt: skip
    assert m and _agrees(m.groups(), (ms[64], ms[128], dataset))


def test_the_cpu_step_section_is_the_json() -> None:
    d, diag = _json(f"{PERF}train_step_cpu.json"), _json(f"{PERF}train_step_cpu_diagnostics.json")
    assert not d["diagnostics_every_step"] and diag["diagnostics_every_step"]
    table = _table_after("| ordinary step (49 of every 50 in training) |")
    for label, run in (("D2CA step (G update + D update, 2 x 32 images), channels_last (default)",
                        "d2ca"),
                       ("the same D2CA step, NCHW (`--no-channels-last`)", "d2ca_nchw"),
                       ("source-only step (32 images), channels_last", "source-only")):  # fmt: skip
        r = d[run]
        _assert_row(table, label, (r["step_s"], r["step_cpu_s"], r["images_per_s"]))
    s, g = d["d2ca"], diag["d2ca"]
    ratio = d["d2ca_vs_source_only_step_time"]
    expected = {
        r"An ordinary D2CA step is ([\d.]+) GFLOP": s["gflop_per_step"],
        r"It ran at ([\d.]+) GFLOP/s, against ([\d.]+) GFLOP/s": (s["gflop_per_s"],
                                                                d["matmul_gflop_per_s"]),
        r"\*\*([\d.]+) of the matmul rate\*\*": d["d2ca_fraction_of_matmul"],
        r"channels_last saves (\d+)% of the CPU time of a D2CA step \(NCHW / channels_last = "
        r"([\d.]+) in CPU time\)": (100 * (1 - 1 / d["nchw_vs_channels_last_cpu_time"]),
                                   d["nchw_vs_channels_last_cpu_time"]),
        r"A D2CA step costs (\d+)x a source-only step of the same batch \((\d+)x per image\)":
            (ratio, ratio / 2),
        r"took ([\d.]+) s and ([\d.]+) GFLOP in the same conditions": (g["step_cpu_s"],
                                                                     g["gflop_per_step"]),
        r"\): ([\d.]+)x an ordinary step, (\d+)% of a run's time at the default": (
            g["step_cpu_s"] / s["step_cpu_s"],
            100 * ((49 * s["step_cpu_s"] + g["step_cpu_s"]) / 50 / s["step_cpu_s"] - 1)),
    }  # fmt: skip
    _assert_sentences("docs/performance.md", expected)


def test_the_tracking_prose_is_the_jsons() -> None:
    """The bullets under the tracking tables: goals, error against the truth, unstable and
    blurred frames, landmarks, full detections, lost tracks."""
    r = _json(f"{PERF}detect_video_realistic_cpu.json")
    d = _json(f"{PERF}detect_video_rendered_drift_cpu.json")
    pct = lambda x: 100 * x  # noqa: E731
    span = lambda xs: (pct(min(xs)), pct(max(xs)))  # noqa: E731
    ks = (5, 10, 25)
    ratio = {k: r[f"track_k{k}_ratio_per_cpu_s"] for k in ks}
    vs_per_frame = {k: pct(r[f"track_k{k}_per_frame"][0]) for k in ks}
    since = r["track_k25_truth_by_since_keyframe"]
    lm_track, lm_frame = r["track_k5_truth_by_landmark"], r["per_frame_truth_by_landmark"]
    expected = {
        r"on the realistic one with ([\d.]+)x \(CPU; ([\d.]+)x wall\) and ([\d.]+) %, and there "
        r"also at K = 10 and 25 \(([\d.]+)x and ([\d.]+) %, ([\d.]+)x and ([\d.]+) %\)":
            (ratio[5], r["track_k5_ratio_per_s"], vs_per_frame[5], ratio[10], vs_per_frame[10],
             ratio[25], vs_per_frame[25]),
        r"K = 25 misses the 2 % narrowly \(([\d.]+) %\)": pct(d["track_k25_per_frame"][0]),
        r"\(realistic: ([\d.]+)-([\d.]+) % against ([\d.]+) %; drift: ([\d.]+)-([\d.]+) % "
        r"against ([\d.]+) %\)":
            (*span([r[f"track_k{k}_truth"][0] for k in ks]), pct(r["per_frame_truth"][0]),
             *span([d[f"track_k{k}_truth"][0] for k in ks]), pct(d["per_frame_truth"][0])),
        r"K = 25: ([\d.]+) % on the fully detected frames, ([\d.]+)-([\d.]+) % on each of the "
        r"(\d+) followed frames": (pct(since[0]), *span(since[1:]), len(since) - 1),
        r"it lies ([\d.]+) % from the truth and ([\d.]+) % from itself":
            (pct(r["per_frame_truth"][0]), pct(r["per_frame_renoised"][0])),
        r"That difference grows with K \(([\d.]+), ([\d.]+), ([\d.]+) %\)":
            tuple(vs_per_frame[k] for k in ks),
        r"\((\d+) frames\) it lies ([\d.]+) % from the truth, and tracking at K = 5 ([\d.]+) %; on "
        r"the (\d+) motion-blurred frames of the quick moves, ([\d.]+) % and ([\d.]+) %":
            (r["unstable_frames"], pct(r["per_frame_truth_unstable"][0]),
             pct(r["track_k5_truth_unstable"][0]), r["fast_frames"],
             pct(r["per_frame_truth_fast"][0]), pct(r["track_k5_truth_fast"][0])),
        r"furthest off \(tracked ([\d.]+)-([\d.]+) %, per-frame ([\d.]+)-([\d.]+) %\), the eyes "
        r"the closest \(([\d.]+)-([\d.]+) %, ([\d.]+)-([\d.]+) %\)":
            (*span(lm_track[2:]), *span(lm_frame[2:]), *span(lm_track[:2]), *span(lm_frame[:2])),
        r"\(realistic, K = 5\): (\d+) of the (\d+) frames get a full detection":
            (r["track_k5_full_frames"], r["frames"]),
        r"keeps the error from the truth \(([\d.]+) % at K = 10, ([\d.]+) % at 25 on the realistic "
        r"video\) and buys speed \(([\d.]+)x, ([\d.]+)x\)":
            (pct(r["track_k10_truth"][0]), pct(r["track_k25_truth"][0]), ratio[10], ratio[25]),
        r"the two videos here now reach ([\d.]+)x and ([\d.]+)x":
            (ratio[5], d["track_k5_ratio_per_cpu_s"]),
        r"measured again after batching, on an idle machine: ([\d.]+)x at K = 5 by CPU time":
            ratio[5],
        r"\((\d+) frames of the rendered drift at K = 5, none of the realistic video\)":
            d["track_k5_fallback_frames"],
    }  # fmt: skip
    assert r["track_k5_fallback_frames"] == 0
    _assert_sentences("docs/performance.md", expected)


def _fenced(text: str) -> list[tuple[str, str]]:
    """``(info string, body)`` of every top-level fenced block of a page."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, flags=re.M | re.S)


def _console_runs(text: str) -> list[tuple[str, str]]:
    """``(command, output)`` of every ``$`` line of the page's top-level console blocks (a
    command continued with ``\\`` joined into one line)."""
    runs: list[tuple[str, list[str]]] = []
    for info, block in _fenced(text):
        lines = iter(block.splitlines() if info == "console" else ())
        for line in lines:
            if not line.startswith("$ "):
                runs[-1][1].append(line)
                continue
            command = line[2:]
            while command.endswith(" \\"):
                command = command[:-1] + next(lines).strip()
            runs.append((command, []))
    return [(command, "\n".join(output)) for command, output in runs]


def test_your_data_pastes_what_the_walkthrough_printed() -> None:
    """docs/your-data.md's outputs, report table, card and F1 blocks and times are those
    ``examples/your_data_walkthrough.py`` recorded, and it runs the page's commands."""
    record = _json("docs/your-data/walkthrough.json")
    raw = (ROOT / "docs/your-data.md").read_text()
    steps = {step["command"]: step for step in record["steps"]}
    assert [command for command, _ in _console_runs(raw)] == list(steps)
    for command, output in _console_runs(raw):
        assert output == steps[command]["output"], command
    pasted = [block for info, block in _fenced(raw) if not info]
    assert any(block.startswith("## Adaptation") and block in record["card"] for block in pasted)
    assert any(block.startswith("## F1") and block in record["report"] for block in pasted)
    rows = re.findall(r"^\| AU\d\d \| \d+% \|.*$", raw, flags=re.M)
    assert len(rows) == 12 and all(row in record["report"].splitlines() for row in rows)
    seconds = {command.split()[1]: step["seconds"] for command, step in steps.items()}
    expected = {
        r"\((\d+) s here, most of it loading MTCNN": round(seconds["prepare"]),
        r"\((\d+) s here: rendering the source, 20 steps": round(seconds["adapt"]),
    }
    _assert_sentences("docs/your-data.md", expected)


GRID64 = {  # performance.md's row label -> the JSON of benchmarks/train_step.py at 64x64
    "8, 8, 16, 16, 24, 24, 32, 32 (0.1.0's grid)": "enc_8-8-16-16-24-24-32-32",
    "12, 16, 24, 32, 48, 48, 64, 64 (the grid)": "enc_12-16-24-32-48-48-64-64",
    "16, 24, 32, 48, 96, 96, 96, 128 (default)": "enc_16-24-32-48-96-96-96-128",
}


def test_the_grid_network_step_table_is_the_jsons() -> None:
    """performance.md's 64x64 table and its prose, and benchmark-synthetic.md's step-time
    column, are ``docs/performance/grid64/``'s ordinary steps."""
    runs = {label: _json(f"{PERF}grid64/{name}.json") for label, name in GRID64.items()}
    table = _table_after("| encoder widths | D2CA step, CPU s |")
    budget = _table_after(
        "| encoder widths | Target only F1 on `lab-a`, by step |", "docs/benchmark-synthetic.md"
    )
    for (label, d), widths in zip(runs.items(), budget, strict=True):
        assert not d["diagnostics_every_step"] and d["image_size"] == 64
        assert label.split(" (")[0] == widths.split(" (")[0]
        d2ca, so = d["d2ca"]["step_cpu_s"], d["source-only"]["step_cpu_s"]
        ratio = d2ca / so
        cells = (d2ca, d["nchw_vs_channels_last_cpu_time"], so, ratio,
                 d["d2ca"]["gflop_per_step"], d["d2ca_fraction_of_matmul_cpu"])  # fmt: skip
        _assert_row(table, label, cells)
        assert _agrees(tuple(budget[widths][1].split(" / ")), (d2ca, so))
    old, grid, _ = runs.values()
    ratios = [r["d2ca"]["step_cpu_s"] / r["source-only"]["step_cpu_s"] for r in runs.values()]
    flop = lambda r: r["d2ca"]["gflop_per_step"]  # noqa: E731
    cpu = lambda r: r["d2ca"]["step_cpu_s"]  # noqa: E731
    expected = {
        r"\(([\d.]+) to ([\d.]+) GFLOP\) but saves (\d+)% of the time": (
            flop(grid), flop(old), 100 * (1 - cpu(old) / cpu(grid))),
        r"widened from 0.1.0's for ([\d.]+)x the step time": cpu(grid) / cpu(old),
        r"\(([\d.]+) of it on the grid's network\)": grid["d2ca_fraction_of_matmul_cpu"],
    }  # fmt: skip
    _assert_sentences("docs/performance.md", expected)
    pattern = r"a D2CA step costs (\d+), (\d+) and (\d+) Source only steps at the three widths"
    _assert_sentences("docs/benchmark-synthetic.md", {pattern: tuple(ratios)})
