"""Rows of the paper's scale on the CPU grid, sections of docs/benchmark-synthetic.md: the
grid's pairs trained again with D2CAConfig's default widths instead of the grid's narrow ones
(``run_table.py --paper-network --subjects 8 --no-quality --results
docs/benchmark-synthetic/paper-net``), or with a larger batch (``run_table.py --batch 64
--subjects 32 --no-quality --results docs/benchmark-synthetic/batch-64``), set beside the
grid's own runs, so that the width of the network and the batch are told apart from the rest
of what the paper's scale changes (issue 18)."""

from __future__ import annotations

import statistics
from pathlib import Path

from report_data import load_results, pair_name, pct
from report_sampler import _by_seed
from scales import CPU

GRID_BATCH = CPU.batch

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


def is_batch_folder(folder: Path) -> bool:
    """A results folder of runs whose batch is not the CPU grid's 16 faces per domain."""
    runs, _ = load_results(folder)
    found = [r for p in runs.values() for rs in p.values() for r in rs]
    return bool(found) and all(r["batch_size"] != GRID_BATCH for r in found)


def _paired(rows: dict, step: int) -> str:
    """D2CA minus Source only at ``step``, the mean over the seeds both have ("–": none)."""
    d2ca, so = (_at(rows.get(m, []), step) for m in ("d2ca", "source-only"))
    seeds = sorted(d2ca.keys() & so.keys())
    return f"{100 * statistics.fmean(d2ca[s] - so[s] for s in seeds):+.1f}" if seeds else "–"


def _side_by_side(runs: dict, grid_runs: dict, grid_d2ca: dict, column: str,
                  names: tuple[tuple[str, str], ...]) -> tuple[list[str], int]:  # fmt: skip
    """The table of :func:`network_section` and :func:`batch_section`: each pair's grid row
    and the folder's, ``names`` their (row, note) labels; and the last step of the folder's D2CA
    runs, D2CA's second column (its first is step 500, the grid's D2CA budget)."""
    last = max((r["steps"] for p in runs.values() for r in p.get("d2ca", [])), default=2000)
    columns = [(m, last if step == 2000 else step, label.replace("2000", str(last)))
               for m, step, label in COLUMNS]  # fmt: skip
    lines = [
        f"| pair | {column} | " + " | ".join(label for _, _, label in columns)
        + f" | gap | gap closed | gap closed, step {last} |",
        "|---|---|" + "---|" * (len(columns) + 3),
    ]  # fmt: skip
    notes = []
    for pair in sorted(runs, key=pair_name):
        grid = dict(grid_runs.get(pair, {})) | {"d2ca": grid_d2ca.get(pair, {}).get("d2ca", [])}
        for (name, note), rows in zip(names, (grid, runs[pair]), strict=True):
            at = {(m, step): list(_at(rows.get(m, []), step).values()) for m, step, _ in columns}
            at[("source-only", last)] = list(_at(rows.get("source-only", []), last).values())
            means = {key: _mean(values) for key, values in at.items()}
            cells = [pct(at[(m, step)]) for m, step, _ in columns]
            so, to = means[("source-only", None)], means[("target-only", None)]
            gap = to - so if so is not None and to is not None else None
            d2ca = [means[("d2ca", step)] for step in (500, last)]
            closed = [
                f"{100 * (d - so) / gap:.0f}%" if gap and d is not None else "–" for d in d2ca
            ]
            shown = "–" if gap is None else f"{100 * gap:.1f}"
            lines.append(f"| {pair_name(pair)} | {name} | " + " | ".join(cells)
                         + f" | {shown} | {' | '.join(closed)} |")  # fmt: skip
            diffs = [_paired(rows, step) for step in (500, last)]
            if diffs != ["–", "–"]:  # a screened pair: no D2CA run
                notes.append(f"{pair_name(pair)}, {note}: {' / '.join(diffs)}")
    lines.append(f"\nD2CA minus Source only on the target at equal steps, 500 / {last} (mean "
                 "over the seeds both have): " + "; ".join(notes) + ".")  # fmt: skip
    return lines, last


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
    table, _ = _side_by_side(runs, grid_runs, grid_d2ca, "network",
                             (("the grid's", "the grid's network"),
                              ("the paper's", "the paper's network")))  # fmt: skip
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
        *table,
    ]
    return "\n".join(lines) + "\n"


def batch_section(folder: Path, grid_runs: dict, grid_d2ca: dict) -> str:
    """Target-test F1 of each method at the grid's batch and at the folder's, pair by pair,
    with the grid's runs as in :func:`network_section`; the folder's D2CA runs may be
    continued (``--extend``) into ``FOLDER-equal-steps``."""
    runs = longest(folder, folder.with_name(f"{folder.name}-equal-steps"))
    first = next(r for p in runs.values() for rs in p.values() for r in rs)
    n, p = first["batch_size"], first["subjects"]
    steps = {m: max(r["steps"] for r in rs) for ms in runs.values() for m, rs in ms.items()}
    names = ((f"{GRID_BATCH}", f"batch {GRID_BATCH}"), (f"{n}", f"batch {n}"))
    table, last = _side_by_side(runs, grid_runs, grid_d2ca, "batch", names)
    pairs = " ".join(f"{s}:{t}" for s, t in sorted(runs))
    lines = [
        f"## A batch of {n} on the CPU grid\n",
        f"The paper's N is 128 faces per domain; the grid's is {GRID_BATCH}. The contrastive "
        f"losses compare each face with the rest of its step (ICL: 8N - 2 negatives, FCL: "
        "triplets within the source batch), and batch norm and the discriminator see one "
        f"batch at a time, so N is one of the rows the paper's scale changes. The grid's pairs "
        f"trained at N = {n} (`run_table.py --batch {n} --subjects {p} --pairs {pairs} "
        f"--no-quality --results docs/benchmark-synthetic/{folder.name}`, the baselines with "
        f"`--steps {steps.get('source-only', '–')}`, D2CA with `--steps {last}`), everything "
        f"else the grid's: 64x64, its narrow network, {p} x {n // p} source batches (the same "
        "two faces per subject as the grid's 8 x 2), the same data. The rows at "
        f"{GRID_BATCH} are the grid's baselines and its D2CA runs with 8 x 2 source batches "
        "(`sampler-k2`, continued in `equal-steps`). At the same step a run at "
        f"N = {n} has seen {n // GRID_BATCH} times the faces. Average F1 ×100 on the target "
        "test split, mean ± std over the seeds of each cell; the gap and the share of it "
        "closed as in the headline.\n",
        *table,
    ]
    return "\n".join(lines) + "\n"
