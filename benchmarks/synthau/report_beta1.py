"""Adam's beta1 on the CPU grid (docs/stability.md): the grid's runs of one
method with another beta1 (``run_table.py --methods d2ca --subjects 8 --beta1 B --no-quality
--results docs/benchmark-synthetic/beta1-B``) or with update clipping (``--update-clip``)
against the same runs with the default 0.5 (``docs/benchmark-synthetic/sampler-k2`` for D2CA,
``rerun`` for the baselines and D2CA on today's code), seed by seed.

Prints a markdown table: source-validation F1 by step and target-test F1 at the last step
(mean ± std over the seeds both have), and each run's largest rise of the logged ``L_au^s``
(``run_table.au_loss_rise``; from the run folders in ``--runs`` for runs whose JSON predates
it, where those folders are still on this machine).

Run:  python benchmarks/synthau/report_beta1.py [--other docs/benchmark-synthetic/beta1-0.9]
          [--base docs/benchmark-synthetic/sampler-k2] [--method d2ca]
          [--runs /tmp/d2ca-synthau/runs]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from report_data import METHODS, load_results, pair_name
from report_sampler import STEPS, _by_seed, _cell
from run_table import au_loss_rise, run_dir
from scales import CPU

REPO = Path(__file__).resolve().parents[2]


def rise_of(result: dict, folder: Path) -> float | None:
    """The run's ``au_loss_rise``: from its JSON, else from its folder's log (runs made
    before the JSON had it), else None."""
    if "au_loss_rise" in result:
        return result["au_loss_rise"]
    return au_loss_rise(folder) if (folder / "metrics.jsonl").is_file() else None


def setting(result: dict) -> str:
    """The run's Adam setting as the table's beta1 column prints it."""
    return f"{result['betas'][0]:g}" + (" + update clipping" if result.get("update_clip") else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", type=Path, default=REPO / "docs/benchmark-synthetic/beta1-0.9")
    parser.add_argument("--base", type=Path, default=REPO / "docs/benchmark-synthetic/sampler-k2")
    parser.add_argument("--method", default="d2ca", choices=METHODS)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/d2ca-synthau/runs"))
    args = parser.parse_args(argv)
    other, _ = load_results(args.other)
    base, _ = load_results(args.base)
    method = args.method
    found = [r for rs in other.values() for r in rs.get(method, [])]
    if not found:
        raise SystemExit(f"no {method} runs in {args.other}")
    label, steps = setting(found[0]), found[0]["steps"]
    shown = STEPS if steps <= STEPS[-1] else range(steps // 4, steps + 1, steps // 4)
    lines = [
        "| pair | beta1 | seeds | " + " | ".join(f"source, step {s}" for s in shown)
        + " | target, last step | largest rise of L_au^s, per seed |",
        "|---|---|---|" + "---|" * (len(shown) + 2),
    ]  # fmt: skip
    better = []
    for pair in sorted(set(other) & set(base), key=pair_name):
        rows = {"0.5": base[pair].get(method, []), label: other[pair].get(method, [])}
        seeds = sorted(set.intersection(*({r["seed"] for r in rs} for rs in rows.values())))
        if not seeds:
            continue
        last = {b: _by_seed(rs, "target_curve") for b, rs in rows.items()}
        for b, rs in rows.items():
            beta1 = rs[0]["betas"][0]
            scale = CPU.with_options(sampler_subjects=rs[0]["subjects"],
                                     beta1=None if beta1 == 0.5 else beta1,
                                     update_clip=rs[0].get("update_clip"))  # fmt: skip
            rise = [rise_of(r, args.runs / run_dir(scale, *pair, method, r["seed"]).name)
                    for r in rs if r["seed"] in seeds]  # fmt: skip
            cells = " | ".join(_cell(_by_seed(rs, "source_curve"), seeds, s) for s in shown)
            rises = ", ".join("–" if r is None else f"{r:.1f}x" for r in rise)
            lines.append(f"| {pair_name(pair)} | {b} | {len(seeds)} | {cells} | "
                         f"{_cell(last[b], seeds, steps)} | {rises} |")  # fmt: skip
        better += [last[label][s].get(steps, 0) >= last["0.5"][s].get(steps, 0) for s in seeds]
    print("\n".join(lines))
    print(f"\nTarget F1 at the last step with beta1 {label} at or above 0.5's: "
          f"{sum(better)} of {len(better)} pair-seeds.")  # fmt: skip


if __name__ == "__main__":
    main()
