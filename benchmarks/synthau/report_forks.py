"""Forks of the equal-steps runs (docs/benchmark-synthetic.md, "D2CA at the baselines' 2000
steps"): a grid D2CA run copied at step 500, a model option changed in the copy's
``train_config.json``, trained on to 2000 steps (``d2ca train --out COPY --resume --steps
2000``); set against the same run unchanged and the grid's Source only, seed by seed.

Prints a markdown table: average F1 x100 on the target test split by step, averaged over the
evaluations from step 1500 to 2000 (one evaluation swings by points where F1 is low), and on
the source validation split at the last step (mean ± std over the seeds every row has), over
the AUs the pair's equal-steps JSONs score.

A fork's folder needs only its ``metrics.jsonl`` (the evaluations; the docs keep a copy in
docs/benchmark-synthetic/forks, from which ``report.py`` builds the page's fork tables).

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
import statistics
from pathlib import Path

from report_data import f1_curve, load_results, pair_name
from report_sampler import _by_seed, _cell
from scales import REPO

STEPS = (1000, 1500, 2000)
LATE = (1500, 2000)  # the evaluations averaged in the table's "mean" column
GRID = REPO / "docs/benchmark-synthetic"


def late_mean(curves: dict[int, dict[int, float]]) -> dict[int, dict[int, float]]:
    """Each seed's curve reduced to one point, ``{0: mean F1 over the evaluations in LATE}``
    (what ``_cell`` reads)."""
    late = {
        seed: [f for s, f in c.items() if LATE[0] <= s <= LATE[1]] for seed, c in curves.items()
    }
    return {seed: {0: statistics.fmean(v)} for seed, v in late.items() if v}


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
    return statistics.fmean(g["au_t"] for g in grads) / statistics.fmean(g["au_s"] for g in grads)


def forks(pattern: str, name: str, runs: list[dict]) -> list[dict]:
    """The forks (``pattern`` with ``{pair}``, ``{seed}``) of a pair's equal-steps ``runs``
    that reached the last step."""
    folders = {r["seed"]: Path(pattern.format(pair=name, seed=r["seed"])) for r in runs}
    found = [fork_result(folders[r["seed"]], r["seed"], r["aus"]) for r in runs
             if (folders[r["seed"]] / "metrics.jsonl").is_file()]  # fmt: skip
    return [f for f in found if f["target_curve"][-1:] and f["target_curve"][-1][0] == STEPS[-1]]


def fork_table(fork: str, label: str, control: str | None, equal_runs: dict, grid_runs: dict,
               *, grads: bool = False) -> str:  # fmt: skip
    """The markdown table of the forks ``fork`` (a folder pattern with ``{pair}``, ``{seed}``)
    against their ``control`` forks (default: the ``equal_runs``, the equal-steps runs) and
    the ``grid_runs``' Source only (both as ``load_results`` gives them); with ``grads`` and
    ``control``, a line of ``grad_ratio`` in the control runs."""
    lines = [
        "| pair | run | seeds | " + " | ".join(f"target, {s}" for s in STEPS)
        + f" | target, mean {LATE[0]}-{LATE[1]} | source, {STEPS[-1]} |",
        "|---|---|---|" + "---|" * (len(STEPS) + 2),
    ]  # fmt: skip
    ratios = []
    for pair in sorted(equal_runs, key=pair_name):
        d2ca = equal_runs[pair]["d2ca"]
        name = f"{pair[0]}_to_{pair[1]}"
        rows = {"D2CA": forks(control, name, d2ca) if control else d2ca,
                f"D2CA {label}": forks(fork, name, d2ca),
                "Source only": grid_runs[pair].get("source-only", [])}  # fmt: skip
        seeds = sorted(set.intersection(*({r["seed"] for r in rs} for rs in rows.values())))
        if not seeds:
            continue
        for row, rs in rows.items():
            target = _by_seed(rs, "target_curve")
            cells = " | ".join(_cell(target, seeds, s) for s in STEPS)
            cells += " | " + _cell(late_mean(target), seeds, 0)
            source = _cell(_by_seed(rs, "source_curve"), seeds, STEPS[-1])
            lines.append(f"| {pair_name(pair)} | {row} | {len(seeds)} | {cells} | {source} |")
        if grads and control:
            pulls = [grad_ratio(Path(control.format(pair=name, seed=s))) for s in seeds]
            ratios.append(f"{pair_name(pair)}: " + ", ".join(f"{r:.2f}" for r in pulls))
    if ratios:
        lines += ["", f"E_au's gradient from L_au^t / from L_au^s after step {STEPS[0]}, the "
                  "D2CA row's runs, seed by seed: " + "; ".join(ratios)]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forks", required=True, help="folder pattern with {pair}, {seed}")
    parser.add_argument("--label", required=True, help="the fork's row name")
    parser.add_argument("--control", help="folder pattern of the same runs forked unchanged: "
                        "the D2CA row (default: the equal-steps JSONs)")  # fmt: skip
    parser.add_argument("--grads", action="store_true", help="with --control: L_au^t's pull on "
                        "E_au against L_au^s's in the control runs, seed by seed")  # fmt: skip
    parser.add_argument("--equal", type=Path, default=GRID / "equal-steps")
    parser.add_argument("--grid", type=Path, default=GRID)
    args = parser.parse_args()
    equal, _ = load_results(args.equal)
    grid, _ = load_results(args.grid)
    print(fork_table(args.forks, args.label, args.control, equal, grid, grads=args.grads))


if __name__ == "__main__":
    main()
