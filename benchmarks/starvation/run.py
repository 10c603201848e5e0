"""Leave-one-in / leave-one-out studies of D2CA's objective (docs/starvation.md).
Each variant is one real training run (``d2ca.train.Trainer``) with the trainer's diagnostics
on; one JSON per run, so the study resumes where it stopped::

    python benchmarks/starvation/run.py --variants full paper au-only --steps 200
    python benchmarks/starvation/run.py --render-only     # print the table from the JSONs

A variant is a set of D2CAConfig overrides (loss weights, switches) on top of the method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from d2ca.data.synth import render_dataset
from d2ca.io import atomic_path
from d2ca.train import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "docs" / "starvation"
NARROW = {  # the 64x64 network of the SynthAU grid (benchmarks/synthau/run_table.py)
    "enc_widths": [8, 8, 16, 16, 24, 24, 32, 32],
    "dec_widths": [32, 24, 16, 16, 8, 8],
    "dec_aux_channels": 4,
    "disc_widths": [8, 16, 32],
    "proj_hidden": 32,
    "proj_dim": 16,
}
OFF = {
    "gamma1": 0.0,
    "gamma2": 0.0,
    "gamma3": 0.0,
    "gamma4": 0.0,
    "use_icl": False,
    "use_fcl": False,
}
# name -> (method, model overrides)
VARIANTS: dict[str, tuple[str, dict]] = {
    "source-only": ("source-only", {}),
    "full": ("d2ca", {}),
}
# leave one in: L_au (both halves) plus one term at its paper weight
for term, on in {
    "rep": {"gamma1": 1.0},
    "rec": {"gamma2": 5.0},
    "adv": {"gamma3": 0.1},
    "ort": {"gamma4": 1.0},
    "icl": {"use_icl": True},
    "fcl": {"use_fcl": True},
}.items():
    VARIANTS[f"au+{term}"] = ("d2ca", {**OFF, **on})
    VARIANTS[f"full-{term}"] = ("d2ca", {k: (False if k.startswith("use") else 0.0) for k in on})
VARIANTS["au"] = ("d2ca", OFF)


def data(work: Path, size: int) -> dict[str, Path]:
    out = {}
    for preset, seed in (("lab-b", 102), ("lab-a", 101)):
        folder = work / f"{preset}-{size}"
        if not (folder / "manifest.csv").is_file():
            render_dataset(folder, preset, seed=seed, subjects=60, frames_per_subject=30, size=size)
        out[preset] = folder
    return out


def summarise(out: Path) -> dict:
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [x for x in lines if x["kind"] == "train"]
    diag = [x for x in lines if x["kind"] == "diagnostics"]
    evals = [x for x in lines if x["kind"] == "eval"]
    au_key = "au_s" if "au_s" in train[-1]["loss"] else "au"
    return {
        "au_s_curve": [round(x["loss"][au_key], 4) for x in train],
        "diagnostics": diag,
        "eval": [
            {
                "step": e["step"],
                "source_val_f1": e.get("source_val", {}).get("avg_f1"),
                "target_test_f1": e.get("target_test", {}).get("avg_f1"),
            }
            for e in evals
        ],
    }


def run(name: str, args: argparse.Namespace, folders: dict[str, Path]) -> dict:
    method, model = VARIANTS[name]
    out = Path(args.work) / "runs" / f"{name}__{args.tag}"
    cfg = TrainConfig(
        source=str(folders["lab-b"]),
        target=str(folders["lab-a"]),
        method=method,
        model={
            **(NARROW if args.narrow else {}),
            "image_size": args.size,
            **model,
            **json.loads(args.set),
        },
        steps=args.steps,
        seed=args.seed,
        eval_every=args.steps // 5,
        log_every=10,
        diagnose_every=args.diagnose_every,
        threads=1,
        progress=False,
        out_dir=str(out),
        checkpoint_every=10**9,
    )
    t0 = time.time()
    Trainer(cfg, overwrite=True).train()
    return {
        "variant": name,
        "method": method,
        "model": cfg.model,
        "steps": args.steps,
        "seed": args.seed,
        "wall_s": round(time.time() - t0, 1),
        **summarise(out),
    }


def table(results: list[dict]) -> str:
    rows = [
        "| variant | L_au^s first -> last | source val F1 | target F1 | spread p_s | "
        "spread a_s | |grad au_s| / |grad rest| on E_au |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d = r["diagnostics"][-1]
        g = d["grad_norm"]["e_au"]
        own = g.get("au_s", g.get("au", 0.0))
        rest = float(np.sqrt(sum(v**2 for k, v in g.items() if k not in ("au_s", "au"))))
        e = r["eval"][-1]
        c = r["au_s_curve"]
        rows.append(
            f"| {r['variant']} | {r['steps']} | {c[0]:.3f} -> {np.mean(c[-3:]):.3f} | "
            f"{100 * (e['source_val_f1'] or 0):.1f} | {100 * (e['target_test_f1'] or 0):.1f} | "
            f"{d['spread']['p_s']:.3f} | {d['spread']['a_s']:.3f} | "
            f"{own:.3f} / {rest:.3f} |"
        )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--narrow", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", default="{}", help="JSON overrides applied to every variant")
    p.add_argument("--tag", default="base", help="names this study's result folder")
    p.add_argument("--diagnose-every", type=int, default=20)
    p.add_argument("--work", default="/tmp/d2ca-starvation")
    p.add_argument("--render-only", action="store_true")
    args = p.parse_args()
    results_dir = RESULTS / args.tag
    results_dir.mkdir(parents=True, exist_ok=True)
    if not args.render_only:
        folders = data(Path(args.work), args.size)
        for name in args.variants:
            path = results_dir / f"{name}.json"
            if path.exists():
                continue
            result = run(name, args, folders)
            with atomic_path(path, overwrite=True) as tmp:
                tmp.write_text(json.dumps(result, indent=1) + "\n")
            print(f"{name}: done in {result['wall_s']} s", file=sys.stderr, flush=True)
    results = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    order = {n: i for i, n in enumerate(VARIANTS)}
    print(table(sorted(results, key=lambda r: order.get(r["variant"], 99))))


if __name__ == "__main__":
    main()
