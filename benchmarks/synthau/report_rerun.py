"""The grid again on later code, a section of docs/benchmark-synthetic.md: the grid's own runs
(same pairs, methods, seeds, steps, batches and network) trained again by ``run_table.py`` at
a later commit, set beside the grid's JSONs run by run."""

from __future__ import annotations

import statistics
from pathlib import Path

from report_data import (
    LABELS,
    METHODS,
    SPIKE,
    avg,
    load_results,
    pair_name,
    pct,
    table_viii_order,
)

SETUP = ("steps", "batch_size", "config")  # what must match the grid's twin, with the data


def _twin(run: dict, grid_runs: dict) -> dict | None:
    twins = [
        r for r in grid_runs.get(_pair(run), {}).get(run["method"], []) if r["seed"] == run["seed"]
    ]
    return twins[0] if twins else None


def _data(run: dict) -> dict:
    """The rendering of the run's two domains (later JSONs list more domains' seeds)."""
    data = dict(run["data"])
    seeds = data.pop("seeds")
    return {**data, "seeds": [seeds[run["source"]], seeds[run["target"]]]}


def is_rerun_folder(folder: Path, grid_runs: dict) -> bool:
    """A results folder whose every run has a twin in the grid (same pair, method, seed and
    setup, the grid's 4 x 4 batches, not continued from a shorter run) trained at another
    commit."""
    runs, _ = load_results(folder)
    found = [r for p in runs.values() for rs in p.values() for r in rs]
    twins = [_twin(r, grid_runs) for r in found]
    return bool(found) and all(
        t is not None and r.get("subjects", 4) == 4 and not r.get("extended_from")
        and r["code"] != t["code"] and _data(r) == _data(t) and all(r[k] == t[k] for k in SETUP)
        for r, t in zip(found, twins, strict=True)
    )  # fmt: skip


def _trained(run: dict) -> tuple:
    """What a run trained on: Source only the same on every target, Target only on every
    source (the grid writes such a run once per pair)."""
    m = run["method"]
    if m == "source-only":
        return m, run["source"], run["seed"]
    return (m, run["target"], run["seed"]) if m == "target-only" else (m, *_pair(run), run["seed"])


def _pair(run: dict) -> tuple[str, str]:
    return run["source"], run["target"]


def _source(results: list[dict]) -> list[float]:
    return [r["source_curve"][-1][1] for r in results if r.get("source_curve")]


def rerun_section(folder: Path, grid_runs: dict) -> str:
    """Each method's target F1 in the grid and again, per-seed differences, source F1, and
    the rerun's largest rise of ``L_au^s``; then the gaps and D2CA's share of them, both ways."""
    runs, _ = load_results(folder)
    found = [r for p in runs.values() for rs in p.values() for r in rs]
    code = sorted({r["code"] for r in found})
    then = sorted({_twin(r, grid_runs)["code"] for r in found})
    methods = [m for m in METHODS if any(m in p for p in runs.values())]
    pairs = " ".join(f"{s}:{t}" for s, t in sorted(runs, key=pair_name))
    seeds = " ".join(map(str, sorted({r["seed"] for r in found})))
    lines = [
        "## The grid again on later code\n",
        f"The grid's runs were trained at commits {', '.join(then)}. The training step has "
        "changed since (issue 17's fewer kernels per step), and with it the order of its "
        f"floating-point sums. The same runs were trained again at {', '.join(code)}: same "
        f"data, seeds, steps, batches and network (`run_table.py --pairs {pairs} --methods M "
        f"--seeds {seeds} --no-quality --workers 2 --results "
        f"docs/benchmark-synthetic/{folder.name}`, one method at a time). Average F1 ×100 on "
        "the target test split at the last step and on the source validation split at the "
        "last evaluation (mean ± std over seeds), the difference of each run from its twin in "
        "the grid, and each run's largest rise of the logged `L_au^s` after step 100 (the "
        f"grid's JSONs predate that measure; {SPIKE:g}x or more is a spike).\n",
        "| pair | method | target, grid | target, again | again − grid, per seed "
        "| source, grid | source, again | largest rise of L_au^s, per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    diffs, spread, spikes, summary = {}, [], {}, []
    for pair in sorted(runs, key=pair_name):
        grid = grid_runs.get(pair, {})
        for m in methods:
            again = runs[pair].get(m, [])
            if not again:
                continue
            twins = [_twin(r, grid_runs) for r in again]
            d = [100 * (r["avg_f1"] - t["avg_f1"]) for r, t in zip(again, twins, strict=True)]
            diffs |= {(_trained(r), r["target"]): x for r, x in zip(again, d, strict=True)}
            spread += [100 * statistics.stdev(avg(rs)) for rs in (again, grid.get(m, []))
                       if len(rs) > 1]  # fmt: skip
            rises = [r.get("au_loss_rise", 0.0) for r in again]
            spikes.setdefault(LABELS[m], {}).update(
                {_trained(r): x >= SPIKE for r, x in zip(again, rises, strict=True)}
            )
            lines.append(
                f"| {pair_name(pair)} | {LABELS[m]} | {pct(avg(twins))} | {pct(avg(again))} | "
                + ", ".join(f"{x:+.1f}" for x in d)
                + f" | {pct(_source(twins))} | "
                f"{pct(_source(again))} | " + ", ".join(f"{x:.1f}x" for x in rises) + " |"
            )
        summary += _gaps(pair, runs[pair], grid)
    moved = [abs(x) for x in diffs.values()]
    counts = "; ".join(f"{m} {sum(s.values())} of {len(s)}" for m, s in spikes.items())
    lines.append(
        f"\nAcross the {len(moved)} runs scored (Source only once per target, Target only "
        f"once), a run moved by {statistics.fmean(moved):.1f} points from its twin (median "
        f"{statistics.median(moved):.1f}, largest {max(moved):.1f}), against a standard "
        f"deviation over seeds of {statistics.fmean(spread or [float('nan')]):.1f} within a "
        f"method and pair. Runs with a spike (each trained run once): {counts}."
    )
    if summary:
        lines.append("\n" + "; ".join(summary) + ".")
    return "\n".join(lines) + "\n"


def _gaps(pair: tuple, again: dict, grid: dict) -> list[str]:
    """The pair's Source-to-Target gap, and the share of it D2CA closes, in the grid and
    again (none where a run set lacks one of the three methods)."""
    need = ("source-only", "target-only", "d2ca")
    if not all(again.get(m) and grid.get(m) for m in need):
        return []
    text = []
    for name, runs in (("grid", grid), ("again", again)):
        lo, hi, d2ca = (statistics.fmean(avg(runs[m])) for m in need)
        share = 100 * (d2ca - lo) / (hi - lo)
        order = table_viii_order(runs)
        order = f", Table VIII's order: {order}" if order else ""
        text.append(f"{name} gap {100 * (hi - lo):.1f}, D2CA closes {share:.0f}%{order}")
    return [f"{pair_name(pair)}: " + ", ".join(text)]
