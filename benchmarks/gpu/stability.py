"""Issue 18, part 3: the D2CA blow-up at the paper's batch, reproduced and taken apart.

One H200 run (issue 18; main at 40454ea, bf16, default network, 128x128, batch 128, 8
subjects x 16 faces, SynthAU lab-b -> lab-a, 60 subjects x 30 frames a domain): at about step
345, after 40 passes over the 1,080 source training faces, ``L_au^s`` jumped from 0.002 to
0.34, the discriminator loss fell from 1.3 to 0.5 and ICL rose from 0.9 to 3.5; target F1
fell from 28.5 (step 200) to 15.8 (step 400).

This script trains that run and variants of it side by side on one GPU, each changing one
suspect, with diagnostics (per-term gradient norms on the encoders, feature spreads) every
``--diagnose-every`` steps, and writes one JSON of curves per variant plus a summary:

* ``paper``: the run above (the reference);
* ``fp32``: no bf16 autocast (is it rounding?);
* ``beta1-0.9``: Adam betas (0.9, 0.999) instead of (0.5, 0.999) (not in the paper; with
  beta1 0.5 and a second moment that decays while ``L_au^s`` is memorised, one large
  gradient moves a weight by up to ``lr * 0.5 / sqrt(0.001)``, 16 lr). On the CPU, with a
  small source memorised as fast, the spike reproduced with beta1 0.5 and did not come with
  0.9 within 450 steps; it came later (Source only, steps 990-1360 of 1,500 against 500-930;
  D2CA, steps 1450 and 2040 of 2,400, a tenth as high as with 0.5;
  ``benchmarks/adam_spike.py``, docs/stability.md;
* ``no-au-t``: without ``L_au^t`` (Eq. 4 on the translated faces, the only term besides
  ``L_au^s`` that trains E_au and C under the default ``aux_grad_e_au = 0``);
* ``no-adv``: ``gamma3 = 0`` (does the discriminator's win start it?);
* ``update-clip``: ``--update-clip``, each tensor's Adam step divided by ``max(1, RMS(g^2 /
  v_hat))``. On the CPU it kept Source only's spikes to a tenth of their height, and
  D2CA's to under a 50th, at steps 2160-2240 of 2,400 (``benchmarks/adam_spike.py``,
  docs/stability.md).

Run on a GPU machine from the repository root (about 5 min on one H200)::

    python benchmarks/gpu/stability.py --out $OUT/stability [--steps 500] [--variants a,b]

and ``--tiny`` for a CPU dry run of the whole path (small data, a few steps).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS: dict[str, dict] = {
    "paper": {},
    "fp32": {"bf16": False},
    "beta1-0.9": {"betas": [0.9, 0.999]},
    "no-au-t": {"model": {"use_au_t": False}},
    "no-adv": {"model": {"gamma3": 0.0}},
    "update-clip": {"update_clip": True},
}
RENDER = {"subjects": 60, "frames_per_subject": 30, "size": 128}  # the data
SEEDS = {"lab-b": 11, "lab-a": 12}  # other than the grid's render seeds (102, 101)
TINY_NET = {"enc_widths": [8, 8, 16, 16, 16, 16, 32, 32], "image_size": 64}


def base_config(data: Path, steps: int, tiny: bool) -> dict:
    """The issue's run: default network, batch 128 per domain (8 x 16), bf16, lab-b -> lab-a."""
    config = {
        "source": f"synthau:{data / 'lab-b'}",
        "target": f"synthau:{data / 'lab-a'}",
        "method": "d2ca",
        "batch_size": 128,
        "subjects": 8,
        "steps": steps,
        "eval_every": 50,
        "log_every": 10,
        "diagnose_every": 10,
        "checkpoint_every": steps,
        "bf16": True,
        "device": "auto",
        "progress": False,
    }
    if tiny:
        config.update(batch_size=8, subjects=4, eval_every=2, log_every=1, diagnose_every=2,
                      model=dict(TINY_NET))  # fmt: skip
    return config


def variant_config(base: dict, change: dict) -> dict:
    """``base`` with one variant's changes (``model`` entries merged, not replaced)."""
    out = {**base, **{k: v for k, v in change.items() if k != "model"}}
    out["model"] = {**base.get("model", {}), **change.get("model", {})}
    return out


def curves(run: Path) -> dict:
    """The run's metrics.jsonl as curves: train terms, evaluations, E_au gradient norms."""
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    evals = [r for r in rows if r["kind"] == "eval"]
    diag = [r for r in rows if r["kind"] == "diagnostics"]
    return {
        "train": {k: [[r["step"], r["loss"][k]] for r in train if k in r["loss"]]
                  for k in ("au_s", "au_t", "icl", "fcl", "rec", "adv", "disc", "total")},
        "f1": {s: [[r["step"], r[s]["avg_f1"]] for r in evals if s in r]
               for s in ("source_val", "target_test")},
        "grad_e_au": [[r["step"], r["grad_norm"].get("e_au", {})] for r in diag],
        "steps_per_s": [r.get("steps_per_s") for r in train],
    }  # fmt: skip


def blow_up(au_s: list[list[float]], floor_after: int = 100, factor: float = 10.0) -> dict:
    """The first logged step after ``floor_after`` where ``L_au^s`` exceeds ``factor`` times
    its lowest value so far; None when it never does."""
    low, found = float("inf"), None
    for step, value in au_s:
        if step > floor_after and value > factor * low and value > 0.05:
            found = {"step": step, "au_s_before": low, "au_s_after": value}
            break
        low = min(low, value)
    return {"first_jump": found}


def summarise(out: Path, names: list[str]) -> dict:
    summary = {}
    for name in names:
        run = out / name
        if not (run / "metrics.jsonl").is_file():
            summary[name] = {"error": "no metrics"}
            continue
        c = curves(run)
        (out / f"{name}.json").write_text(json.dumps(c) + "\n")
        f1 = c["f1"]
        summary[name] = {
            **blow_up(c["train"]["au_s"]),
            "best_target_f1": max((v for _, v in f1["target_test"]), default=None),
            "last_target_f1": f1["target_test"][-1][1] if f1["target_test"] else None,
            "best_source_f1": max((v for _, v in f1["source_val"]), default=None),
            "last_source_f1": f1["source_val"][-1][1] if f1["source_val"] else None,
            "median_steps_per_s": float(np.median([s for s in c["steps_per_s"] if s]))
            if c["steps_per_s"] else None,
        }  # fmt: skip
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--tiny", action="store_true", help="a CPU dry run")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a TrainConfig JSON: train it
    args = parser.parse_args()
    if args.one:
        from d2ca.train import TrainConfig, train

        train(TrainConfig.from_dict(json.loads(args.one)), overwrite=True)
        return
    names = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    from d2ca.data.synth import render_dataset

    data = args.out / "data"
    render = {"subjects": 6, "frames_per_subject": 4, "size": 64} if args.tiny else RENDER
    t0 = time.time()
    for preset, seed in SEEDS.items():
        if not (data / preset / "manifest.csv").is_file():
            render_dataset(data / preset, preset, seed=seed, workers=os.cpu_count(), **render)
    render_s = time.time() - t0
    base = base_config(data, args.steps, args.tiny)
    procs = {}
    for name in names:  # every variant at once: the GPU is launch-bound, not full
        config = variant_config(base, VARIANTS[name]) | {"out_dir": str(args.out / name)}
        log = (args.out / f"{name}.log").open("w")
        procs[name] = subprocess.Popen(
            [sys.executable, __file__, "--out", str(args.out), "--one", json.dumps(config)],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "2"},
        )  # fmt: skip
    codes = {name: p.wait() for name, p in procs.items()}
    result = {
        "issue": 18,
        "render_s": round(render_s, 1),
        "exit_codes": codes,
        "wall_s": round(time.time() - t0, 1),
        "base": base,
        "variants": {n: VARIANTS[n] for n in names},
        "summary": summarise(args.out, names),
    }
    (args.out / "stability.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
