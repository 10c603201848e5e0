"""D2CA at the baselines' steps, a section of docs/benchmark-synthetic.md: the grid's D2CA
runs continued to the baselines' step budget (``run_table.py --methods d2ca --steps 2000
--extend --results docs/benchmark-synthetic/equal-steps``) against the grid's Source only and
DANN, step by step on the same evaluations."""

from __future__ import annotations

import statistics
from pathlib import Path

from report_data import D2CA_VARIANTS, LABELS, avg, load_results, pair_name
from report_sampler import _by_seed, _cell


def is_equal_steps_folder(folder: Path) -> bool:
    """A results folder of D2CA runs continued from shorter ones (``--extend``)."""
    runs, _ = load_results(folder)
    found = [r for p in runs.values() for rs in p.values() for r in rs]
    return bool(found) and all(r["method"] in D2CA_VARIANTS and r.get("extended_from")
                               for r in found)  # fmt: skip


def _rise(results: list[dict], seeds: list[int]) -> str:
    rises = [r.get("au_loss_rise") for r in results if r["seed"] in seeds]
    return ", ".join("–" if x is None else f"{x:.1f}x" for x in rises)


def equal_steps_section(folder: Path, grid_runs: dict) -> str:
    """Target-test F1 by step of the folder's D2CA runs and of the grid's Source only and
    DANN, on the seeds all three have; and D2CA minus Source only at the last step."""
    runs, _ = load_results(folder)
    first = next(r for p in runs.values() for rs in p.values() for r in rs)
    last, p = first["steps"], first["subjects"]
    k = first["batch_size"] // p
    steps = sorted({500, *range(last // 4, last + 1, last // 4)})
    lines = [
        f"## D2CA at the baselines' {last} steps\n",
        f"The grid gives D2CA 500 steps and the baselines {last}. The grid's D2CA runs with "
        f"{p} x {k} source batches (the sampler study's, in `sampler-k{k}`) were "
        f"continued to {last} steps (`run_table.py --pairs {' '.join(f'{s}:{t}' for s, t in runs)}"
        f" --methods d2ca --subjects {p} --steps {last} --extend --checkpoint-every 250 "
        f"--no-quality --results docs/benchmark-synthetic/{folder.name}`; `--extend` starts "
        "each run from its 500-step checkpoint, the same run as one trained from the start). "
        "Average F1 ×100 on the target test split at each step (mean ± std over the seeds all "
        "rows have), on the source validation split at the last, and each run's largest rise "
        "of the logged `L_au^s` after step 100 (a spike shows as several times; – : not "
        "logged in the run's JSON).\n",
        "| pair | method | seeds | " + " | ".join(f"target, step {s}" for s in steps)
        + f" | source, step {last} | largest rise of L_au^s, per seed |",
        "|---|---|---|" + "---|" * (len(steps) + 2),
    ]  # fmt: skip
    summary, above = [], {"Source only": [], "DANN": []}
    for pair in sorted(runs, key=pair_name):
        grid = grid_runs.get(pair, {})
        rows = {"d2ca": runs[pair].get("d2ca", []), "source-only": grid.get("source-only", []),
                "dann": grid.get("dann", [])}  # fmt: skip
        seeds = sorted(set.intersection(*({r["seed"] for r in rs} for rs in rows.values())))
        if not seeds:
            continue
        target = {m: _by_seed(rs, "target_curve") for m, rs in rows.items()}
        for m, rs in rows.items():
            cells = " | ".join(_cell(target[m], seeds, s) for s in steps)
            source = _cell(_by_seed(rs, "source_curve"), seeds, last)
            lines.append(f"| {pair_name(pair)} | {LABELS[m]} | {len(seeds)} | {cells} | "
                         f"{source} | {_rise(rs, seeds)} |")  # fmt: skip
        diffs = [target["d2ca"][s][last] - target["source-only"][s][last] for s in seeds]
        upper = [r["avg_f1"] for r in grid.get("target-only", [])]
        gap = statistics.fmean(upper) - statistics.fmean(avg(rows["source-only"])) if upper else 0
        closed = f"; {100 * statistics.fmean(diffs) / gap:.0f}% of the gap closed" if gap else ""
        summary.append(f"{pair_name(pair)} {100 * statistics.fmean(diffs):+.1f} (per seed "
                       + ", ".join(f"{100 * d:+.1f}" for d in diffs) + closed + ")")  # fmt: skip
        above["Source only"] += [d > 0 for d in diffs]
        above["DANN"] += [target["d2ca"][s][last] > target["dann"][s][last] for s in seeds]
    counts = ", ".join(f"{m} in {sum(v)} of {len(v)}" for m, v in above.items())
    lines.append(f"\nD2CA minus Source only on the target at step {last}: "
                 + "; ".join(summary) + f". D2CA above {counts} pair-seeds.")  # fmt: skip
    return "\n".join(lines) + "\n"
