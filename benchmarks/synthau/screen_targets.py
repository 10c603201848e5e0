"""Screen candidate target domains for the SynthAU grid (issue 8: a pair not ending in lab-a).

A candidate is ``lab-a`` with some of its domain factors changed. Each is rendered at the
grid's size (seed 105, rendered as domain ``lab-c`` so that every candidate draws the same
subjects and AUs) and gets runs of the grid's baselines (the grid's network and budget; seed
0 unless ``--seeds``): Target only (is the domain learnable in the budget?) and Source only
from ``lab-a`` and from ``lab-b`` (is there a gap?). ``--scale`` picks the grid
(:mod:`scales`: ``cpu`` or ``paper``). One JSON per run in the scale's results folder under
``screen/``; finished runs are skipped, and a run cut short resumes from its checkpoint.
``report.py`` (``report_paper.py``) puts the table in the scale's page.

Run:  python benchmarks/synthau/screen_targets.py [--scale paper] [--variants v4 v5]
          [--seeds 0 1 2] [--work /tmp/d2ca-synthau]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import torch
from budget import train
from report_data import f1_curve
from run_table import pair_aus, render_data, train_config, write_json
from scales import DATA_SEEDS, SCALES, Scale

from d2ca.data.manifest import read_manifest
from d2ca.data.synth import PRESETS, render_dataset
from d2ca.devices import resolve_device
from d2ca.evaluation import evaluate
from d2ca.hub import load_folder

SEED = DATA_SEEDS["lab-c"]  # candidates share lab-c's subjects and AU draws
_POSE = {"yaw_std": 8.0, "pitch_std": 5.0, "roll_std": 4.0, "scale_std": 0.03, "shift_std": 0.015}
_CAMERA = {"camera_res": (0.85, 1.0), "blur": (0.3, 0.6), "noise": (1.0, 3.0), "jpeg": (85, 100)}
_LIGHT = {"ambient": (0.4, 0.55), "light_spread": 25.0, "light_tint": 0.1,
          "exposure": (0.9, 1.05), "background_rgb": (190, 170, 140)}  # fmt: skip
_MEDIUM = {"skin_tones": PRESETS["lab-c"].skin_tones}  # v4 became the lab-c preset
# name: (what changes from lab-a, the changed fields), in the order they were tried
VARIANTS: dict[str, tuple[str, dict]] = {
    "v1": ("deep skin tones, low-ambient warm side light with shadows, dark green backdrop, "
           "more pose, softer camera",
           {"skin_tones": (0.0, 0.05, 0.15, 0.25, 0.3, 0.25), "ambient": (0.3, 0.45),
            "light_spread": 35.0, "light_tint": 0.08, "exposure": (0.85, 1.0),
            "shadow_prob": 0.3, "background_rgb": (58, 84, 62), "yaw_std": 6.0,
            "pitch_std": 4.0, "roll_std": 3.0, "scale_std": 0.02, "shift_std": 0.01,
            "camera_res": (0.9, 1.0), "blur": (0.3, 0.5), "noise": (1.0, 2.5),
            "jpeg": (90, 100)}),
    "v2": ("medium skin tones, colour cast, beige backdrop, shadows, more pose, softer camera",
           {**_MEDIUM, **_LIGHT, "ambient": (0.45, 0.6), "light_spread": 20.0,
            "shadow_prob": 0.15, **_POSE, **_CAMERA}),
    "v3": ("v2 with light-to-medium skin tones",
           {"skin_tones": (0.2, 0.3, 0.3, 0.2, 0.0, 0.0), **_LIGHT, "ambient": (0.45, 0.6),
            "light_spread": 20.0, "shadow_prob": 0.15, **_POSE, **_CAMERA}),
    "v4": ("medium skin tones only", _MEDIUM),
    "v5": ("medium skin tones, colour cast, more directional light, beige backdrop",
           {**_MEDIUM, **_LIGHT}),
    "v6": ("v5 with more pose and alignment jitter", {**_MEDIUM, **_LIGHT, **_POSE}),
    "v7": ("v5 with a softer, noisier camera and shadows",
           {**_MEDIUM, **_LIGHT, **_CAMERA, "shadow_prob": 0.15}),
}  # fmt: skip
SOURCES = ("lab-a", "lab-b")


def render(scale: Scale, name: str) -> Path:
    folder = scale.work / "screen" / "data" / name
    if not (folder / "manifest.csv").is_file():
        preset = dataclasses.replace(PRESETS["lab-a"], name="lab-c", **VARIANTS[name][1])
        render_dataset(folder, preset, seed=SEED, workers=os.cpu_count() or 1, **scale.data)
    return folder


def run(scale: Scale, data: dict[str, Path], name: str, source: str | None, seed: int) -> None:
    """Target only on candidate ``name`` (``source`` None), or Source only from ``source``."""
    method = "target-only" if source is None else "source-only"
    key = f"{name}__{method}" + (f"__from-{source}" if source else "") + f"__seed{seed}"
    path = scale.results / "screen" / f"{key}.json"
    if path.is_file():
        return
    target = render(scale, name)
    source_dir = target if source is None else data[source]
    # the CPU screen's folders predate scales: its key alone
    out = scale.work / "screen" / "runs" / (f"{key}__{scale.tag(method)}" if scale.name != "cpu"
                                            else key)  # fmt: skip
    if not (out / "model" / "config.json").is_file():
        train(train_config(scale, source_dir, target, method, seed, out))
    src, tgt = read_manifest(source_dir), read_manifest(target)
    aus = pair_aus(src, tgt)
    device = resolve_device(scale.device)
    model = load_folder(out / "model", device=device)
    scored = evaluate(model, tgt.split("test"), au_names=aus, device=device)
    result = {
        "variant": name,
        "changes": VARIANTS[name][0],
        "fields": json.loads(json.dumps(VARIANTS[name][1])),
        "method": method,
        "source": source or name,
        "seed": seed,
        "scale": scale.name,
        "steps": model.config.provenance["steps"],
        "aus": aus,
        "avg_f1": sum(scored["f1"][a] for a in aus) / len(aus),
        "target_curve": f1_curve(out, "target_test", aus),
        "data": {**scale.data, "seed": SEED, "source seeds": DATA_SEEDS},
    }
    write_json(path, result)
    print(f"{path.name}: avg F1 {result['avg_f1']:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    parser.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--work", help="data/checkpoint folder (default: the scale's)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the grid's workers
    scale = SCALES[args.scale].with_options(work=args.work)
    (scale.results / "screen").mkdir(parents=True, exist_ok=True)
    data = render_data(scale, set(SOURCES), workers=os.cpu_count() or 1)
    for name in args.variants:
        for seed in args.seeds:
            for source in (None, *SOURCES):
                run(scale, data, name, source, seed)


if __name__ == "__main__":
    main()
