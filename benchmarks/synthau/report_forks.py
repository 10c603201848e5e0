"""Forks of the equal-steps runs (docs/benchmark-synthetic.md, "D2CA at the baselines' 2000
steps"): a grid D2CA run copied at step 500, a model option changed in the copy's
``train_config.json``, trained on to 2000 steps (``d2ca train --out COPY --resume --steps
2000``); set against the same run unchanged and the grid's Source only, seed by seed.

Prints a markdown table: average F1 x100 on the target test split by step and on the source
validation split at the last (mean ± std over the seeds every row has), over the AUs the
pair's equal-steps JSONs score.

A fork's folder needs only its ``metrics.jsonl`` (the evaluations; the docs keep a copy).

Run:  python benchmarks/synthau/report_forks.py --label "w/o L_au^t" \\
          --forks /tmp/d2ca-loo/noaut-{pair}-seed{seed}

``--control PATTERN`` takes the D2CA row from forks of the same runs continued unchanged (for
runs trained again rather than the equal-steps runs themselves); with it, ``--grads`` also
prints, seed by seed, how hard ``L_au^t`` pulls on ``E_au`` in those runs against ``L_au^s``
(the ratio of their gradient norms on ``E_au``, each averaged over the diagnostics after
step 1000).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from report_data import load_results, pair_name
from report_sampler import _by_seed, _cell
from run_table import f1_curve
from scales import REPO

STEPS = (1000, 1500, 2000)


def fork_result(folder: Path, seed: int, aus: list[str]) -> dict:
    """A fork's curves in the shape of a run JSON's (what ``_by_seed`` reads)."""
    return {"seed": seed, "target_curve": f1_curve(folder, "target_test", aus),
            "source_curve": f1_curve(folder, "source_val", aus)}  # fmt: skip


def grad_ratio(folder: Path, after: int = STEPS[0]) -> float:
    """``E_au``'s gradient norm from ``L_au^t`` over that from ``L_au^s``, each the mean over
    a run's diagnostics after step ``after``."""
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    grads = [
        r["grad_norm"]["e_au"] for r in rows if r["kind"] == "diagnostics" and r["step"] > after
    ]
    return float(np.mean([g["au_t"] for g in grads]) / np.mean([g["au_s"] for g in grads]))


def forks(pattern: str, name: str, runs: list[dict]) -> list[dict]:
    """The forks (``pattern`` with ``{pair}``, ``{seed}``) of a pair's equal-steps ``runs``
    that reached the last step."""
    folders = {r["seed"]: Path(pattern.format(pair=name, seed=r["seed"])) for r in runs}
    found = [fork_result(folders[r["seed"]], r["seed"], r["aus"]) for r in runs
             if (folders[r["seed"]] / "metrics.jsonl").is_file()]  # fmt: skip
    return [f for f in found if f["target_curve"][-1:] and f["target_curve"][-1][0] == STEPS[-1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forks", required=True, help="folder pattern with {pair}, {seed}")
    parser.add_argument("--label", required=True, help="the fork's row name")
    parser.add_argument("--control", help="folder pattern of the same runs forked unchanged: "
                        "the D2CA row (default: the equal-steps JSONs)")  # fmt: skip
    parser.add_argument("--grads", action="store_true", help="with --control: L_au^t's pull on "
                        "E_au against L_au^s's in the control runs, seed by seed")  # fmt: skip
    parser.add_argument("--equal", type=Path, default=REPO / "docs/benchmark-synthetic/equal-steps")
    parser.add_argument("--grid", type=Path, default=REPO / "docs/benchmark-synthetic")
    args = parser.parse_args()
    equal, _ = load_results(args.equal)
    grid, _ = load_results(args.grid)
    lines = [
        "| pair | run | seeds | " + " | ".join(f"target, {s}" for s in STEPS)
        + f" | source, {STEPS[-1]} |",
        "|---|---|---|" + "---|" * (len(STEPS) + 1),
    ]  # fmt: skip
    grads = []
    for pair in sorted(equal, key=pair_name):
        d2ca = equal[pair]["d2ca"]
        name = f"{pair[0]}_to_{pair[1]}"
        control = forks(args.control, name, d2ca) if args.control else d2ca
        rows = {"D2CA": control, f"D2CA {args.label}": forks(args.forks, name, d2ca),
                "Source only": grid[pair].get("source-only", [])}  # fmt: skip
        seeds = sorted(set.intersection(*({r["seed"] for r in rs} for rs in rows.values())))
        if not seeds:
            continue
        for label, rs in rows.items():
            cells = " | ".join(_cell(_by_seed(rs, "target_curve"), seeds, s) for s in STEPS)
            source = _cell(_by_seed(rs, "source_curve"), seeds, STEPS[-1])
            lines.append(f"| {pair_name(pair)} | {label} | {len(seeds)} | {cells} | {source} |")
        if args.grads and args.control:
            ratios = [grad_ratio(Path(args.control.format(pair=name, seed=s))) for s in seeds]
            grads.append(f"{pair_name(pair)}: " + ", ".join(f"{r:.2f}" for r in ratios))
    if grads:
        lines += ["", f"E_au's gradient from L_au^t / from L_au^s after step {STEPS[0]}, the "
                  "D2CA row's runs, seed by seed: " + "; ".join(grads)]  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    main()
