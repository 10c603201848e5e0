"""docs/benchmark-synthetic-paper.md: the grid's tables at the paper's scale, from its JSONs.

The page has the tables of the CPU page (the functions of ``report.py``, on the JSONs in
``docs/benchmark-synthetic-paper/``) after a header that says what the scale changed, read
from the two :class:`~scales.Scale` definitions, and a setup section read from the JSONs.
With no JSON yet it says so and how to make them. The CPU page's hand-written reading of its
results (budget, pictures, discussion) has no counterpart here until there are results to read.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from report import (
    ablation_section,
    findings_section,
    gap_closed_section,
    gap_section,
    headline_section,
    learning_section,
    missing_section,
    per_au_section,
    quality_section,
    screen_section,
    setup_lines,
    wall_times,
)
from report_data import GAP_MIN, LABELS, METHODS, PLATEAU, SPIKE, TARGET_MIN, load_results, plateau
from scales import CPU, Scale

INTRO = """\
The presets, methods, metric and tables are those of
[the CPU grid](benchmark-synthetic.md), whose introduction describes the domains and the
measures, and which stays as it is; the scale differs, as the table above says, and with it
the pairs that pass the real-gap test. All
numbers below come from `python benchmarks/synthau/run_table.py --scale paper` on a GPU (one
JSON per run in [benchmark-synthetic-paper/](benchmark-synthetic-paper/);
`--scale paper --render-only` rebuilds this page from them). A device call trains for a fixed
time (`--budget-s`): a run it cannot finish stops at a checkpoint, and `pack.py` carries the
JSONs (and what checkpoints fit) to the next call.
"""

NO_RUNS = """\
No runs yet: they need a GPU. One device call, from the repository root:

```bash
python benchmarks/synthau/pack.py unpack CARRIED_FILES...   # what the last call packed
python benchmarks/synthau/run_table.py --scale paper --workers 3 --budget-s 420 --partial
python benchmarks/synthau/pack.py pack "$OUT"
```

The screening comes first (`--methods source-only target-only --seeds 0 --no-quality`): which
targets are learnable at this scale (Target only at 60 or more) and which pairs have a real gap.
The whole grid is about 3 hours of one H200 (27 D2CA-variant runs of 50 epochs at the graphed
step's 0.076 s, evaluation besides), some twenty calls of a lent session; a first grid that
answers sooner is two pairs, two seeds and half the epochs (`--pairs lab-a:lab-b wild:lab-a
--seeds 0 1 --epochs 25`): twelve D2CA-variant runs of half length, about a fifth of that.
"""

SCREEN_TEXT = """\
The variants of `lab-a` of the CPU page's section of the same name, rendered and trained at
this page's scale (`python benchmarks/synthau/screen_targets.py --scale paper`; one JSON per
run in [benchmark-synthetic-paper/screen/](benchmark-synthetic-paper/screen/)). Average F1
×100 on the candidate's test split; gap = Target only − Source only.
"""


CPU_TEXT = """\
Runs of this scale trained on the CPU while no GPU was lent: the same computation in float32,
on 2 cores (one JSON per run in [benchmark-synthetic-paper/cpu/](benchmark-synthetic-paper/cpu/)):

```bash
R="python benchmarks/synthau/run_table.py --scale paper --device cpu --no-quality \\
   --results docs/benchmark-synthetic-paper/cpu"
$R --seeds 0 --methods target-only --pairs lab-a:wild --workers 1 --threads 2
$R --seeds 0 --methods target-only --pairs lab-a:lab-b lab-a:social --workers 2 --threads 1
$R --seeds 0 --methods source-only --pairs lab-a:lab-b --workers 1 --threads 2
$R --seeds 0 --methods source-only target-only --pairs lab-b:lab-c --workers 2 --threads 1
$R --seeds 1 --methods source-only target-only --pairs lab-a:lab-b --workers 2 --threads 1
$R --seeds 1 --methods target-only --pairs lab-a:wild --workers 1 --threads 1
$R --seeds 1 --methods target-only --pairs lab-a:social --workers 1 --threads 1 &
$R --seeds 1 --methods source-only --pairs lab-b:lab-c --workers 1 --threads 1; wait
$R --seeds 1 --methods target-only --pairs lab-b:lab-c --workers 1 --threads 2
$R --seeds 2 --methods target-only --pairs lab-a:lab-b --workers 1 --threads 1 &
$R --seeds 2 --methods source-only --pairs lab-a:lab-b --workers 1 --threads 1; wait
$R --seeds 2 --methods target-only --pairs lab-b:lab-c --workers 1 --threads 1 &
$R --seeds 2 --methods source-only --pairs lab-b:lab-c --workers 1 --threads 1; wait
$R --seeds 2 --methods target-only --pairs lab-a:wild --workers 1 --threads 1 &
$R --seeds 2 --methods target-only --pairs lab-a:social --workers 1 --threads 1; wait
$R --seeds 3 --methods target-only --pairs lab-a:lab-b --workers 1 --threads 1 &
$R --seeds 3 --methods source-only --pairs lab-a:lab-b --workers 1 --threads 1; wait
$R --seeds 3 --methods target-only --pairs lab-b:lab-c --workers 1 --threads 1 &
$R --seeds 3 --methods source-only --pairs lab-b:lab-c --workers 1 --threads 1; wait
```

(Given both methods, `run_table.py` also screens the scale's candidate pairs on the first
seed; those extra runs were stopped and are not here.) They answer the screen's two questions
early: which targets are learnable (Target only at 60 or more), and, below the table, which
pairs have a real gap; this scale's pairs (the first table) were chosen by that answer. The
grid's own runs are the GPU's. Average F1 ×100 on the target's test split at each evaluation
(every 5 epochs):
"""


CPU_GAP_TEXT = """\
**The real-gap test, from the same runs.** Each run also reads its model on its source's
validation split at every evaluation, so a run is also half of another pair's test: Target
only of `lab-a → lab-b` trains on `lab-b`, and read on `lab-a` it is Source only of `lab-b →
lab-a`; Source only of `lab-a → lab-b` trains on `lab-a`, and read on `lab-a` it is Target only
of every pair into `lab-a`. The grid page's test, on this scale's pairs and screening
candidates, on the seed means: Target only leads by at least {gap:.0f} F1 points and reaches
{target:.0f}, and Source only moved less than {plateau:.0f} point over the last fifth of its
training (the worst seed's move in brackets). F1 ×100 at the last evaluation, mean over the
seeds that have both models read on the same split of the target (the validation split for a
pair into `lab-a`, else the test split); a pair whose Target only is under {target:.0f} fails
without its Source only (–). The last column reads the final models (the last evaluation's
weights) on the target's test split, for the pairs into `lab-a` with `d2ca evaluate`
(`WORK`: `run_table.py`'s `--work` folder):

```bash
for run in WORK/runs/lab-a_to_*-only__seed*__paper__epochs50; do
  d2ca evaluate $run/model --split test --json --data WORK/data/lab-a/manifest.csv \\
    > docs/benchmark-synthetic-paper/cpu/final-on-test/$(basename $run).json
done
```
"""


Reading = tuple[str, str, int]  # (trained on, read on, seed)


def trained_on(method: str, source: str, target: str) -> str:
    """The domain a run's model trains on: Target only the target's, the others the source's."""
    return target if method == "target-only" else source


def cpu_readings(results: list[dict]) -> dict[Reading, tuple[str, dict]]:
    """``(trained on, read on, seed) -> (split, run)`` of the CPU runs. A run reads its model
    on its target's test split (``target_curve``) and on its source's validation split
    (``source_curve``), whichever domain it trained on (:func:`trained_on`). ``run`` is
    ``{"target_curve": ..., "steps": ...}`` for :func:`plateau`; a test reading wins over a
    validation reading of the same model and domain."""
    out: dict[Reading, tuple[str, dict]] = {}
    for split, curve, read in (("test", "target_curve", "target"),
                               ("validation", "source_curve", "source")):  # fmt: skip
        for r in results:
            if r["method"] in ("source-only", "target-only") and r.get(curve):
                run = {"target_curve": r[curve], "steps": r["steps"]}
                trained = trained_on(r["method"], r["source"], r["target"])
                out.setdefault((trained, r[read], r["seed"]), (split, run))
    return out


def cpu_finals(readings: dict, folder: Path) -> dict[Reading, float]:
    """``(trained on, read on, seed) -> F1`` of the CPU runs' final models on the test split:
    the test readings' last evaluations, and ``d2ca evaluate --json`` of a final model on
    another domain's test split (``folder``'s JSONs; the run, its seed and the domain read off
    the model's and the data's paths)."""
    out = {k: run["target_curve"][-1][1] for k, (split, run) in readings.items()
           if split == "test"}  # fmt: skip
    for path in sorted(folder.glob("*.json")):
        d = json.loads(path.read_text())
        pair, method, seed = Path(d["model"]).parent.name.split("__")[:3]
        trained = trained_on(method, *pair.split("_to_"))
        out[(trained, Path(d["data"]).parent.name, int(seed.removeprefix("seed")))] = d["avg_f1"]
    return out


def cpu_gap_row(readings: dict, finals: dict, s: str, t: str, seeds: list[int]) -> str | None:
    """One pair's real-gap test on the seed means, as the grid's page does (None when the runs
    cannot read it): Source only is a model trained on ``s`` read on ``t``, Target only one
    trained on ``t``, both on the same split of ``t`` and the same seeds; then the final
    models on the test split, on the seeds where ``finals`` has both."""

    def last(reads: list) -> float:
        return statistics.fmean(run["target_curve"][-1][1] for _, run in reads)

    tgt = [readings[(t, t, seed)] for seed in seeds if (t, t, seed) in readings]
    if tgt and last(tgt) < TARGET_MIN:  # fails already
        cells = [str(len(tgt)), tgt[0][0], "–", f"{100 * last(tgt):.1f}", "–", "–", "**no**", "–"]
        return f"| {s} → {t} | " + " | ".join(cells) + " |"
    both = [seed for seed in seeds if (s, t, seed) in readings and (t, t, seed) in readings
            and readings[(s, t, seed)][0] == readings[(t, t, seed)][0]]  # fmt: skip
    if not both:
        return None
    src, tgt = [readings[(s, t, x)] for x in both], [readings[(t, t, x)] for x in both]
    lo, hi = last(src), last(tgt)
    moved, worst = plateau([run for _, run in src])
    ok = hi - lo >= GAP_MIN and hi >= TARGET_MIN and moved < PLATEAU
    final, fin = "–", [x for x in both if (s, t, x) in finals and (t, t, x) in finals]
    if fin:
        f_lo = statistics.fmean(finals[(s, t, x)] for x in fin)
        f_hi = statistics.fmean(finals[(t, t, x)] for x in fin)
        final = f"{100 * f_lo:.1f} / {100 * f_hi:.1f} ({100 * (f_hi - f_lo):+.1f})"
    gap = f"{100 * (hi - lo):+.1f}"
    if len(both) > 1:  # each seed's, in the order of ``both``
        each = (last([b]) - last([a]) for a, b in zip(src, tgt, strict=True))
        gap += f" ({', '.join(f'{100 * g:+.1f}' for g in each)})"
    cells = [str(len(both)), src[0][0], f"{100 * lo:.1f}", f"{100 * hi:.1f}", gap,
             f"{100 * moved:.1f} ({100 * worst:.1f})",
             "yes" if ok else "**no**", final]  # fmt: skip
    return f"| {s} → {t} | " + " | ".join(cells) + " |"


def cpu_gap_lines(readings: dict, finals: dict, pairs: list[tuple[str, str]]) -> list[str]:
    """The real-gap test of the grid's page on each pair the CPU runs can read."""
    seeds = sorted({seed for _, _, seed in readings})
    rows, missing = [], []
    for s, t in pairs:
        row = cpu_gap_row(readings, finals, s, t, seeds)
        rows += [row] if row else []
        missing += [] if row else [f"`{s} → {t}`"]
    if not rows:
        return []
    return [
        "",
        CPU_GAP_TEXT.format(gap=100 * GAP_MIN, target=100 * TARGET_MIN, plateau=100 * PLATEAU),
        "| pair | seeds | target's split | Source only | Target only | gap (each seed) | Source "
        "only, last fifth (worst seed) | counts? | test split, final models: Source / Target "
        "only (gap) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        *([f"\nNot yet readable from these runs: {', '.join(missing)}."] if missing else []),
    ]


def cpu_section(folder: Path, pairs: list[tuple[str, str]]) -> str:
    """The runs of this scale trained on the CPU (``folder``'s JSONs), with their curves,
    and the real-gap test of ``pairs`` where they can read it."""
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    if not results:
        return ""
    best = [100 * max(f for _, f in r["target_curve"]) for r in results]
    rows = [
        f"| {r['source']} → {r['target']} | {LABELS[r['method']]} | {r['seed']} | "
        + ", ".join(f"{100 * f:.1f}" for _, f in r["target_curve"])
        + f" | {b:.1f} | {r['wall_time_s'] / 60:.0f} min |"
        for r, b in zip(results, best, strict=True)
    ]
    readings = cpu_readings(results)
    bests: dict[str, list[tuple[int, float]]] = {}
    for r, b in zip(results, best, strict=True):
        if r["method"] == "target-only":
            bests.setdefault(r["target"], []).append((r["seed"], b))
    verdicts = [f"- `{t}`: Target only at best "
                + ", ".join(f"{b:.1f} (seed {seed})" for seed, b in sorted(bs)) + ": "
                + ("" if min(b for _, b in bs) >= 100 * TARGET_MIN else "not ")
                + "learnable at this scale."
                for t, bs in sorted(bests.items())]  # fmt: skip
    return "\n".join([
        "## Measured on the CPU at this scale\n",
        CPU_TEXT,
        "| pair | method | seed | target F1, evaluation by evaluation | best | wall time |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *verdicts,
        *cpu_gap_lines(readings, cpu_finals(readings, folder / "final-on-test"), pairs),
    ]) + "\n"  # fmt: skip


def render_paper_document(scale: Scale, expected: dict) -> str:
    """The whole markdown page of ``scale`` (its JSONs in ``scale.results``).

    Args:
        scale: the scale the JSONs were trained at (the header compares it with the CPU's).
        expected: ``{"pairs": [...], "methods": [...], "seeds": [...]}``: the planned grid.
    """
    runs, refs = load_results(scale.results)
    grid = [p for p in expected["pairs"] if p in runs]
    screened = grid + sorted(p for p in runs if p not in grid)
    any_run = next((r for p in runs.values() for rs in p.values() for r in rs), None)
    out = [
        "# SynthAU benchmark at the paper's scale, on one GPU\n",
        f"<!-- generated by benchmarks/synthau/run_table.py --scale {scale.name}; edit the "
        "script, not this file -->\n",
        scale_section(CPU, scale),
    ]
    cpu = cpu_section(scale.results / "cpu", [*scale.pairs, *scale.screen])
    if any_run is None:
        return "\n".join(s for s in [*out, NO_RUNS, cpu] if s)
    out += [
        INTRO,
        setup_section(runs, any_run),
        headline_section(runs, grid),
        gap_section(runs, screened),
        screen_section(scale.results / "screen", SCREEN_TEXT),
        gap_closed_section(runs, grid),
        learning_section(runs, grid),
        stability_section(runs, grid),
        per_au_section(runs, grid),
        ablation_section(runs, grid),
        quality_section(runs, refs, grid),
        findings_section(runs, grid),
        missing_section(runs, expected),
        cpu,
    ]
    return "\n".join(section for section in out if section)


def scale_section(cpu: Scale, scale: Scale) -> str:
    """What the scale changed from the CPU grid, as a table of the two definitions."""

    def network(s: Scale) -> str:
        if not s.model:
            return "`D2CAConfig`'s default (the paper's widths)"
        return "narrower: " + ", ".join(f"`{k}={v}`" for k, v in s.model.items())

    def budget(s: Scale) -> str:
        if s.epochs:
            return f"{s.epochs} epochs, every method"
        by_steps: dict[int, list[str]] = {}
        for m in METHODS:
            by_steps.setdefault(s.steps[m], []).append(LABELS[m])
        return "; ".join(f"{', '.join(ms)}: {n} steps" for n, ms in by_steps.items())

    def checkpoints(s: Scale) -> str:
        every = f"every {s.checkpoint_every} steps" if s.checkpoint_every else "at the end"
        evals = f"{max(1, s.epochs // 10)} epochs" if s.epochs else f"{s.eval_every} steps"
        return f"evaluation every {evals}, checkpoints {every}"

    rows = {
        "faces": lambda s: f"{s.image_size}×{s.image_size}",
        "data per domain": lambda s: f"{s.subjects} subjects × {s.frames_per_subject} frames",
        "network": network,
        "batch per domain": lambda s: (
            f"{s.batch} ({s.sampler_subjects} subjects × "
            f"{s.batch // s.sampler_subjects} faces in a source batch)"
        ),
        "pairs of the grid": lambda s: ", ".join(f"{a} → {b}" for a, b in s.pairs),
        "also screened": lambda s: ", ".join(f"{a} → {b}" for a, b in s.screen),
        "budget": budget,
        "cadence": checkpoints,
        "precision": lambda s: "bf16 autocast on CUDA" if s.bf16 else "float32",
    }
    lines = [
        "> **What the scale changed.** This page is the CPU grid of "
        "[benchmark-synthetic.md](benchmark-synthetic.md) at the paper's scale, and its "
        "numbers come from a GPU (the setup's host line), not from the CPU. These rows differ; "
        "the presets and their render seeds, the objective, Adam at lr 1e-3, the oracles and "
        "the tables do not. Two rows are also measured alone on the CPU: the network "
        "([benchmark-synthetic.md](benchmark-synthetic.md#the-papers-network-on-the-cpu-grid), "
        "`run_table.py --paper-network`) and the batch "
        "([a batch of 64](benchmark-synthetic.md#a-batch-of-64-on-the-cpu-grid), "
        "`run_table.py --batch 64`).\n",
        f"| | CPU grid | this page (`--scale {scale.name}`) |",
        "|---|---|---|",
        *(f"| {name} | {row(cpu)} | {row(scale)} |" for name, row in rows.items()),
    ]
    return "\n".join(lines) + "\n"


def setup_section(runs: dict, run: dict) -> str:
    """The setup as the JSONs record it: network, budget, precision, host."""
    cfg, batch, p = run["config"], run["batch_size"], run["subjects"]
    steps = sorted({r["steps"] for ms in runs.values() for rs in ms.values() for r in rs})
    epochs = sorted({r["epochs"] for ms in runs.values() for rs in ms.values() for r in rs
                     if r.get("epochs")})  # fmt: skip
    widths = [f"`{k}={tuple(v) if isinstance(v, list) else v}`" for k, v in cfg.items()
              if k != "image_size"]  # fmt: skip
    network = "`D2CAConfig`'s default network: the paper's widths, loss weights, τ, α."
    if widths:
        network = (
            f"a network narrower than the default: {', '.join(widths)} (everything else as "
            "`D2CAConfig`'s defaults: the paper's loss weights, τ, α)."
        )
    budget = f"{'/'.join(map(str, epochs))} epochs for every method, " if epochs else ""
    model = [
        f"- Model: {cfg['image_size']}×{cfg['image_size']} input and {network}",
        f"- Training: batch {batch} per domain (source batches: {p} subjects × {batch // p} "
        f"faces for FCL), Adam lr 1e-3 and betas {tuple(run.get('betas', (0.5, 0.999)))}, "
        f"{'bf16 autocast' if run.get('bf16') else 'float32'}, "
        f"{budget}{'/'.join(map(str, steps))} steps.",
    ]
    hosts = sorted({r["host"] for ms in runs.values() for rs in ms.values() for r in rs})
    walls = wall_times(runs)
    timed = ", ".join(f"{LABELS[m]} {statistics.fmean(walls[m]):.0f} s" for m in METHODS
                      if walls[m])  # fmt: skip
    host = (
        f"- Host: {'; '.join(hosts)}. The runs of a device call share the GPU, each in its "
        "own process (`--workers`); a run a call could not finish resumes from its checkpoint "
        "in a later one. Wall time per run trained within one call (mean; resumed runs not "
        f"counted): {timed or 'none yet'}."
    )
    return setup_lines(runs, run, model, host)


def stability_section(runs: dict, grid: list) -> str:
    """Issue 18's spike, run by run: each run's largest rise of the logged source AU loss
    after step 100 over its lowest earlier value (``au_loss_rise``); 10x or more is a spike."""
    rows = []
    for m in METHODS:
        rises = [r["au_loss_rise"] for p in grid for r in runs[p].get(m, []) if "au_loss_rise" in r]
        if rises:
            spikes = sum(x >= SPIKE for x in rises)
            rows.append(f"| {LABELS[m]} | {len(rises)} | {spikes} | {max(rises):.1f}x |")
    if not rows:
        return ""
    return "\n".join([
        "## Stability\n",
        "At this scale a D2CA run once lost what it had learnt: its source AU loss jumped from "
        "0.002 to 0.34 (docs/stability.md). For every run of the grid, the "
        "largest rise of the logged source AU loss (a mean of 10 steps) after step 100 over the "
        f"lowest value logged before it; a rise of {SPIKE:g}x or more counts as a spike.\n",
        "| method | runs | runs with a spike | largest rise |",
        "|---|---|---|---|",
        *rows,
    ]) + "\n"  # fmt: skip
