"""The paper's network on the CPU grid, a section of docs/benchmark-synthetic.md: the grid's
pairs trained again with D2CAConfig's default widths instead of the grid's narrow ones
(``run_table.py --paper-network --subjects 8 --no-quality --results
docs/benchmark-synthetic/paper-net``), set beside the grid's own runs, so that the width of
the network is told apart from the rest of what the paper's scale changes (issue 18)."""

from __future__ import annotations

import statistics
from pathlib import Path

from report_data import load_results, pair_name, pct
from report_sampler import _by_seed

# (method, step, label) of each F1 column; None: the run's last step
COLUMNS = (
    ("source-only", 500, "Source only, step 500"),
    ("source-only", None, "Source only, last step"),
    ("dann", None, "DANN, last step"),
    ("d2ca", 500, "D2CA, step 500"),
    ("d2ca", 2000, "D2CA, step 2000"),
    ("target-only", None, "Target only, last step"),
)


def is_network_folder(folder: Path) -> bool:
    """A results folder of runs with the default (paper's) network: no widths overridden."""
    runs, _ = load_results(folder)
    found = [r for p in runs.values() for rs in p.values() for r in rs]
    return bool(found) and all(set(r["config"]) == {"image_size"} for r in found)


def longest(*folders: Path) -> dict:
    """``runs[pair][method]`` of the folders that exist, each seed's longest run: a run
    continued with ``--extend`` (its curve begins with the shorter run's) replaces it."""
    best: dict = {}
    for folder in folders:
        runs, _ = load_results(folder) if folder.is_dir() else ({}, {})
        for pair, methods in runs.items():
            for method, results in methods.items():
                for r in results:
                    key = (pair, method, r["seed"])
                    if key not in best or r["steps"] > best[key]["steps"]:
                        best[key] = r
    out: dict = {}
    for (pair, method, _), r in sorted(best.items(), key=lambda kv: kv[0][2]):
        out.setdefault(pair, {}).setdefault(method, []).append(r)
    return out


def _at(results: list[dict], step: int | None) -> dict[int, float]:
    """seed -> target-test F1 at ``step`` (None: the run's last evaluation)."""
    curves = _by_seed(results, "target_curve")
    pick = {s: c.get(step if step else max(c, default=0)) for s, c in curves.items()}
    return {s: f for s, f in pick.items() if f is not None}


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def network_section(folder: Path, grid_runs: dict, grid_d2ca: dict) -> str:
    """Target-test F1 of each method with the grid's network and with the paper's, pair by
    pair: ``grid_runs`` holds the grid's baselines, ``grid_d2ca`` its D2CA runs with the
    folder's sampler (:func:`longest` of the sampler study's and equal-steps folders); the
    folder's D2CA runs continued (``--extend``) are read from ``FOLDER-equal-steps``."""
    runs = longest(folder, folder.with_name(f"{folder.name}-equal-steps"))
    first = next(r for p in runs.values() for rs in p.values() for r in rs)
    p, k = first["subjects"], first["batch_size"] // first["subjects"]
    trained = sorted(pair for pair, methods in runs.items() if "d2ca" in methods)
    screened = sorted(set(runs) - set(trained))
    named = [f"{s}:{t}" for s, t in screened if len(runs[(s, t)].get("target-only", [])) > 1]
    seed0 = [pair_name(pair) for pair in screened if f"{pair[0]}:{pair[1]}" not in named]
    screen = ""
    if named:
        screen = (
            f" and, screened like the grid's targets, `--pairs {' '.join(named)} --methods "
            "source-only target-only`" + (f" (with {', '.join(seed0)} on seed 0)" if seed0 else "")
        )
    elif seed0:
        screen = f" and Source only and Target only on {', '.join(seed0)}, seed 0"
    lines = [
        "## The paper's network on the CPU grid\n",
        "The grid narrows the network so that it fits two cores. The same pairs trained with "
        "D2CAConfig's default widths, the paper's network (`run_table.py --paper-network "
        f"--pairs {' '.join(f'{s}:{t}' for s, t in trained)} --subjects {p} --no-quality "
        f"--results docs/benchmark-synthetic/{folder.name}`{screen}; everything else the "
        "grid's: 64x64, "
        f"batch 16, {p} x {k} source batches, the same data and budgets). The grid's rows are "
        f"its baselines (4 x 4 source batches) and its D2CA runs with {p} x {k} "
        "(`sampler-k2`, continued to 2000 steps in `equal-steps`); D2CA's runs with the "
        f"paper's network continued likewise are in `{folder.name}-equal-steps`. Average F1 "
        "×100 on the target test split, mean ± std over the seeds "
        "of each cell; the gap is Target only minus Source only at their last step, and D2CA "
        "closes (D2CA at step 500 minus Source only at its last step) / gap, the headline's "
        "measure, and the same with D2CA at step 2000, the baselines' budget.\n",
        "| pair | network | " + " | ".join(label for _, _, label in COLUMNS)
        + " | gap | gap closed | gap closed, step 2000 |",
        "|---|---|" + "---|" * (len(COLUMNS) + 3),
    ]  # fmt: skip
    notes = []
    for pair in sorted(runs, key=pair_name):
        grid = dict(grid_runs.get(pair, {})) | {"d2ca": grid_d2ca.get(pair, {}).get("d2ca", [])}
        for name, rows in (("the grid's", grid), ("the paper's", runs[pair])):
            at = {(m, step): list(_at(rows.get(m, []), step).values()) for m, step, _ in COLUMNS}
            at[("source-only", 2000)] = list(_at(rows.get("source-only", []), 2000).values())
            means = {key: _mean(values) for key, values in at.items()}
            cells = [pct(at[(m, step)]) for m, step, _ in COLUMNS]
            so, to = means[("source-only", None)], means[("target-only", None)]
            gap = to - so if so is not None and to is not None else None
            d2ca = [means[("d2ca", step)] for step in (500, 2000)]
            closed = [
                f"{100 * (d - so) / gap:.0f}%" if gap and d is not None else "–" for d in d2ca
            ]
            shown = "–" if gap is None else f"{100 * gap:.1f}"
            lines.append(f"| {pair_name(pair)} | {name} | " + " | ".join(cells)
                         + f" | {shown} | {' | '.join(closed)} |")  # fmt: skip
            equal = zip(d2ca, (means[("source-only", step)] for step in (500, 2000)), strict=True)
            diffs = ["–" if None in ab else f"{100 * (ab[0] - ab[1]):+.1f}" for ab in equal]
            if diffs != ["–", "–"]:  # a screened pair: no D2CA run
                notes.append(f"{pair_name(pair)}, {name} network: {' / '.join(diffs)}")
    lines.append("\nD2CA minus Source only on the target at equal steps, 500 / 2000 (seed "
                 "means): " + "; ".join(notes) + ".")  # fmt: skip
    return "\n".join(lines) + "\n"
