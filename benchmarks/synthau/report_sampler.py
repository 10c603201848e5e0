"""The sampler study of docs/benchmark-synthetic.md: the grid's D2CA runs trained again with
another number of subjects per source batch (``run_table.py --subjects P --results
docs/benchmark-synthetic/sampler-kK``), set against the grid's own runs and Source only."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from report_data import load_results, pair_name

STEPS = (100, 200, 300, 500)


def is_sampler_folder(folder: Path) -> bool:
    """A results folder of D2CA runs whose source batches are not the grid's P x K."""
    runs, _ = load_results(folder)
    found = [r for p in runs.values() for rs in p.values() for r in rs]
    return bool(found) and all(r.get("subjects", 4) != 4 for r in found)


def _by_seed(results: list[dict], key: str) -> dict[int, dict[int, float]]:
    """seed -> {step: F1} of ``key`` (``source_curve`` or ``target_curve``)."""
    return {r["seed"]: {int(s): f for s, f in r.get(key, [])} for r in results}


def _cell(curves: dict[int, dict[int, float]], seeds: list[int], step: int) -> str:
    values = [curves[s][step] for s in seeds if step in curves.get(s, {})]
    if not values:
        return "–"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.fmean(values):.1f} ± {100 * spread:.1f}"


def sampler_section(folder: Path, grid_runs: dict) -> str:
    """D2CA with the folder's P x K against the grid's D2CA (4 x 4) and Source only, on the
    seeds all three have: source-validation F1 by step, and target-test F1 at the end."""
    runs, _ = load_results(folder)
    p = next(r["subjects"] for pr in runs.values() for rs in pr.values() for r in rs)
    k = next(r["batch_size"] for pr in runs.values() for rs in pr.values() for r in rs) // p
    lines = [
        f"## The sampler: {p} subjects x {k} faces per source batch\n",
        f"The grid's D2CA runs use source batches of 4 subjects x 4 faces. The same runs with "
        f"{p} subjects x {k} faces (`run_table.py --methods d2ca --subjects {p} --no-quality "
        f"--results docs/benchmark-synthetic/{folder.name}`), everything else equal. Average F1 "
        "×100 on the source validation split at each step (mean ± std over the seeds all three "
        "rows have), and on the target test split at the last step; the last column counts the "
        f"seeds on which {p} x {k} is above 4 x 4 at step 200.\n",
        "| pair | source batch | seeds | " + " | ".join(f"source, step {s}" for s in STEPS)
        + " | target, last step | above 4 x 4 at step 200 |",
        "|---|---|---|" + "---|" * (len(STEPS) + 2),
    ]  # fmt: skip
    wins: dict[str, list[bool]] = defaultdict(list)
    for pair in sorted(runs, key=pair_name):
        ours = runs[pair].get("d2ca", [])
        grid = grid_runs.get(pair, {})
        rows = {f"D2CA, {p} x {k}": ours, "D2CA, 4 x 4 (the grid)": grid.get("d2ca", []),
                "Source only, 16 uniform": grid.get("source-only", [])}  # fmt: skip
        seeds = sorted(set.intersection(*({r["seed"] for r in rs} for rs in rows.values())))
        if not seeds:
            continue
        src = {name: _by_seed(rs, "source_curve") for name, rs in rows.items()}
        mine, theirs = src[f"D2CA, {p} x {k}"], src["D2CA, 4 x 4 (the grid)"]
        above = [mine[s].get(200, 0) > theirs[s].get(200, 0) for s in seeds]
        wins[pair_name(pair)] = above
        last = max(ours[0]["steps"], 1)
        for name, rs in rows.items():
            target = _cell(_by_seed(rs, "target_curve"), seeds, last)
            cells = " | ".join(_cell(src[name], seeds, s) for s in STEPS)
            count = f"{sum(above)} of {len(above)}" if name.startswith(f"D2CA, {p}") else ""
            lines.append(f"| {pair_name(pair)} | {name} | {len(seeds)} | {cells} | {target} "
                         f"| {count} |")  # fmt: skip
    total = [w for ws in wins.values() for w in ws]
    lines.append(
        f"\n{p} x {k} is above 4 x 4 at step 200 in {sum(total)} of {len(total)} pair-seeds."
    )
    return "\n".join(lines) + "\n"
