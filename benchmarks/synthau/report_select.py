"""``--select source-val`` on the CPU grid, from the runs' curves (docs/stability.md):
what the weights of each run's best source-validation evaluation would have scored on the
target, against the last step's that the grid reports. No run is retrained: every grid run
evaluated source validation and target test every 100 steps, and the trainer
selects among exactly those evaluations (the first of equals). Target only is left out (its
labels are the target's).

Prints a markdown table (F1 x 100, mean ± std over the seeds) and, per pair, D2CA's lead
over Source only under both rules.

Run:  python benchmarks/synthau/report_select.py [--results docs/benchmark-synthetic]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from report_data import load_results, pair_name, pct

REPO = Path(__file__).resolve().parents[2]
METHODS = ("source-only", "dann", "d2ca", "d2ca-no-fcl", "d2ca-no-icl-fcl")


def selected(result: dict) -> tuple[int, float, float]:
    """``(step, target F1 there, target F1 at the last evaluation)``: the step of the run's
    best source-validation F1, the first of equals, as ``TrainConfig.select`` picks it."""
    target = {int(s): f for s, f in result["target_curve"]}
    step = int(max(result["source_curve"], key=lambda sf: (sf[1], -sf[0]))[0])
    return step, target[step], target[max(target)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "docs/benchmark-synthetic")
    args = parser.parse_args()
    runs, _ = load_results(args.results)
    pairs = sorted((p for p, ms in runs.items() if "d2ca" in ms), key=pair_name)
    lines = [
        "| pair | method | seeds | target, last step | target, best source-val step "
        "| selected steps | last minus selected |",
        "|---|---|---|---|---|---|---|",
    ]
    leads = []
    for pair in pairs:
        means = {}
        for method in METHODS:
            rows = [selected(r) for r in runs[pair].get(method, [])]
            if not rows:
                continue
            steps, chosen, last = zip(*rows, strict=True)
            means[method] = statistics.fmean(last), statistics.fmean(chosen)
            gap = [a - b for a, b in zip(last, chosen, strict=True)]
            shown = ", ".join(map(str, steps))
            lines.append(f"| {pair_name(pair)} | {method} | {len(rows)} | {pct(last)} | "
                         f"{pct(chosen)} | {shown} | {pct(gap)} |")  # fmt: skip
        if "d2ca" in means and "source-only" in means:
            lead = [100 * (means["d2ca"][i] - means["source-only"][i]) for i in (0, 1)]
            leads.append(f"- {pair_name(pair)}: D2CA minus Source only {lead[0]:+.1f} at the "
                         f"last step, {lead[1]:+.1f} at the selected steps")  # fmt: skip
    print("\n".join(lines))
    print("\n" + "\n".join(leads))


if __name__ == "__main__":
    main()
