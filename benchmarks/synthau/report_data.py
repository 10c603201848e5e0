"""The SynthAU grid's run JSONs, loaded and summarised for ``report.py``.

The methods and their labels, issue 8's bar for a real cross-domain pair, the loader of the
per-run JSONs, and the statistics the tables print: mean ± std over seeds, and Source only's
plateau and evaluation noise over the last fifth of training.
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

METHODS = ("source-only", "dann", "d2ca-no-icl-fcl", "d2ca-no-fcl", "d2ca", "target-only")
LABELS = {
    "source-only": "Source only",
    "dann": "DANN",
    "d2ca-no-icl-fcl": "D2CA w/o ICL+FCL",
    "d2ca-no-fcl": "D2CA w/o FCL",
    "d2ca": "D2CA",
    "target-only": "Target only",
}
D2CA_VARIANTS = ("d2ca-no-icl-fcl", "d2ca-no-fcl", "d2ca")
# issue 8's bar for a benchmark that means something: a pair is a real cross-domain problem
# when Target only leads Source only by 15 F1 points, Target only reaches 60, and Source
# only has plateaued (its target F1 moves less than 1 point over the last fifth of training)
GAP_MIN = 0.15
TARGET_MIN = 0.60
PLATEAU = 0.01
SPIKE = 10.0  # a rise of the source AU loss this large is issue 18's spike


def load_results(folder: Path) -> tuple[dict, dict]:
    """``runs[(source, target)][method] -> [result per seed]`` and ``refs[(source, target)]``."""
    runs: dict = defaultdict(lambda: defaultdict(list))
    refs: dict = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        pair = (data["source"], data["target"])
        if path.name.startswith("reference__"):
            refs[pair] = data
        else:
            runs[pair][data["method"]].append(data)
    for methods in runs.values():
        for results in methods.values():
            results.sort(key=lambda r: r["seed"])
    return runs, refs


def f1_curve(out: Path, split: str, aus: list[str]) -> list[list[float]]:
    """``[step, average F1 over aus]`` on ``split`` (``target_test``, ``source_val``) at each
    evaluation of a run, from its ``metrics.jsonl``."""
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [
        [r["step"], statistics.fmean(r[split]["f1"][a] for a in aus)]
        for r in rows
        if r.get("kind") == "eval" and split in r
    ]


def adam_study(folder: Path) -> bool:
    """A results folder of runs trained with another optimiser than TrainConfig's (Adam,
    betas (0.5, 0.999), no update clipping): a study of docs/stability.md, not a
    section of the grid's page."""
    runs, _ = load_results(folder)
    found = [r for p in runs.values() for rs in p.values() for r in rs]
    return any(r.get("betas", [0.5, 0.999]) != [0.5, 0.999] or r.get("update_clip") for r in found)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def pct(values: Sequence[float], *, n: bool = False) -> str:
    """``mean ± std`` in percent (F1 x 100, as the paper prints it)."""
    if not values:
        return "–"
    m, s = mean_std(values)
    text = f"{100 * m:.1f} ± {100 * s:.1f}"
    return f"{text} ({len(values)})" if n else text


def num(values: Sequence[float], digits: int = 1) -> str:
    if not values:
        return "–"
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def pair_name(pair: tuple[str, str]) -> str:
    return f"{pair[0]} → {pair[1]}"


def avg(results: list[dict]) -> list[float]:
    return [r["avg_f1"] for r in results]


def table_viii_order(methods: dict) -> str | None:
    """Whether a pair's D2CA variants keep the paper's ablation order (Table VIII: full D2CA
    above w/o FCL above w/o ICL+FCL, seed means): "yes", "no", "tie", or None where a
    variant has no run. ``methods``: ``{method: [result per seed]}``."""
    vals = [avg(methods.get(m, [])) for m in D2CA_VARIANTS]
    if not all(vals):
        return None
    means = [statistics.fmean(v) for v in vals]
    if max(means) == min(means):
        return "tie"
    return "yes" if means[0] < means[1] < means[2] else "no"


def plateau(results: list[dict]) -> tuple[float, float] | None:
    """Source only's change of target F1 over the last fifth of training, between its
    evaluation at 80% of the steps and its last: of the seed-mean curve and of the worst
    seed. None when a run has no curve."""
    moves, starts, ends = [], [], []
    for r in results:
        curve = r.get("target_curve") or []
        start = [f1 for step, f1 in curve if step <= 0.8 * r["steps"]]
        if not start:
            return None
        starts.append(start[-1])
        ends.append(curve[-1][1])
        moves.append(abs(ends[-1] - starts[-1]))
    if not moves:
        return None
    return abs(statistics.fmean(ends) - statistics.fmean(starts)), max(moves)


def neighbour_noise(results: list[dict]) -> float | None:
    """Median absolute change of target F1 between neighbouring evaluations of one run over
    the last fifth of training, across ``results``."""
    diffs = []
    for r in results:
        late = [f1 for step, f1 in r.get("target_curve") or [] if step >= 0.8 * r["steps"]]
        diffs += [abs(b - a) for a, b in itertools.pairwise(late)]
    return statistics.median(diffs) if diffs else None
