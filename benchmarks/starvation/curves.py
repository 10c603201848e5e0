"""D2CA against Source only, step by step: F1 curves of training runs, one JSON per run.

Collect the evaluation lines of finished ``d2ca train`` runs (each run stays one JSON in
``docs/starvation/curves/``), then print the markdown table of docs/starvation.md::

    python benchmarks/starvation/curves.py collect NAME=RUN_DIR ...
    python benchmarks/starvation/curves.py table --pair ab --pair ba
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from d2ca.io import atomic_path

CURVES = Path(__file__).resolve().parents[2] / "docs" / "starvation" / "curves"


def collect(name: str, run: Path) -> Path:
    """``run``'s source-val and target-test F1 at every evaluation, with its config."""
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in lines if x["kind"] == "eval"]
    train = [x for x in lines if x["kind"] == "train"]
    au = [(x["step"], x["loss"].get("au_s", x["loss"].get("au"))) for x in train]
    bounds = [0] + [x["step"] for x in evals]
    data = {
        "train_config": json.loads((run / "train_config.json").read_text()),
        "steps": [x["step"] for x in evals],
        "source_val": [round(100 * x["source_val"]["avg_f1"], 2) for x in evals],
        "target_test": [round(100 * x["target_test"]["avg_f1"], 2) for x in evals],
        # the source AU loss on the training batches, mean over each evaluation interval
        "train_au_loss": [
            round(float(np.mean([v for s, v in au if lo < s <= hi])), 4)
            for lo, hi in zip(bounds, bounds[1:], strict=False)
        ],
    }
    CURVES.mkdir(parents=True, exist_ok=True)
    out = CURVES / f"{name}.json"
    with atomic_path(out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    return out


def table(prefix: str) -> str:
    """Rows ``PREFIX-METHOD-sSEED``: each method's mean over seeds, and D2CA / Source only."""
    runs: dict[str, list[dict]] = {}
    for path in sorted(CURVES.glob(f"{prefix}-*.json")):
        method = path.stem[len(prefix) + 1 :].rsplit("-s", 1)[0]
        runs.setdefault(method, []).append(json.loads(path.read_text()))
    steps = max((r["steps"] for rs in runs.values() for r in rs), key=len)

    def at_steps(r: dict, key: str) -> list[float]:
        values = dict(zip(r["steps"], r[key], strict=True))
        return [values.get(s, np.nan) for s in steps]

    mean = {}
    out = [
        "| method (seeds) | " + " | ".join(f"step {s}" for s in steps) + " |",
        "|---" * (len(steps) + 1) + "|",
    ]
    for method, rs in runs.items():
        src = np.mean([at_steps(r, "source_val") for r in rs], axis=0)
        tgt = np.mean([at_steps(r, "target_test") for r in rs], axis=0)
        mean[method] = (src, {r["train_config"]["seed"] for r in rs})
        seeds = ", ".join(str(r["train_config"]["seed"]) for r in rs)
        cells = [
            "-" if np.isnan(a) else f"{a:.1f} / {b:.1f}" for a, b in zip(src, tgt, strict=True)
        ]
        out.append(f"| {method} ({seeds}) | " + " | ".join(cells) + " |")
    for method, rs in runs.items():
        if all("train_au_loss" in r for r in rs):
            loss = np.mean([at_steps(r, "train_au_loss") for r in rs], axis=0)
            cells = ["-" if np.isnan(v) else f"{v:.3f}" for v in loss]
            out.append(f"| {method}, training L_au^s | " + " | ".join(cells) + " |")
    so = runs.get("source-only", [])
    for method, (src, seeds) in mean.items():
        base = [at_steps(r, "source_val") for r in so if r["train_config"]["seed"] in seeds]
        if method == "source-only" or len(base) < len(seeds):
            continue
        ratio = [
            f"{a / b:.2f}" if b > 0 else "-" for a, b in zip(src, np.mean(base, 0), strict=True)
        ]
        ratio = ["-" if r == "nan" else r for r in ratio]
        out.append(
            f"| {method} / Source only (same seeds), source F1 | " + " | ".join(ratio) + " |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("runs", nargs="+", help="NAME=RUN_DIR")
    t = sub.add_parser("table")
    t.add_argument("--pair", action="append", required=True, help="name prefix of the runs")
    args = parser.parse_args()
    if args.command == "collect":
        for item in args.runs:
            name, _, run = item.partition("=")
            print(collect(name, Path(run)))
    else:
        for prefix in args.pair:
            print(f"\n{prefix}: source-val / target-test F1 x 100, mean over seeds\n")
            print(table(prefix))


if __name__ == "__main__":
    main()
