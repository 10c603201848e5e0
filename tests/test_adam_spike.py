"""benchmarks/adam_spike.py: Adam's state and the sharpness read along a training run."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import adam_spike  # noqa: E402

from d2ca.data.synth import render_dataset  # noqa: E402
from d2ca.train import train  # noqa: E402


def test_the_threshold_is_adams_edge_of_stability() -> None:
    assert adam_spike.threshold(0.5, 1e-3) == pytest.approx(6000)
    assert adam_spike.threshold(0.9, 1e-3) == pytest.approx(38000)


def test_power_iteration_finds_the_scaled_top_eigenvalue() -> None:
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(12, 12, generator=gen, dtype=torch.float64))
    h = q @ torch.diag(torch.linspace(-3, 10, 12, dtype=torch.float64)) @ q.T
    scale = torch.rand(12, generator=gen, dtype=torch.float64) + 0.5
    start = [torch.randn(12, generator=gen, dtype=torch.float64)]
    lam, change, vec = adam_spike._power(lambda v: [h @ v[0]], [scale], start, iters=300)
    want = np.linalg.eigvalsh((scale[:, None] * h * scale[None, :]).numpy())
    assert lam == pytest.approx(want[np.abs(want).argmax()], rel=1e-6)
    assert change < 1e-6
    assert float(vec[0].norm()) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def spike_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spike")
    for preset, seed in adam_spike.RENDER.items():
        render_dataset(root / preset, preset, subjects=8, frames_per_subject=4, size=64, seed=seed)
    return root


def test_readings_leave_the_run_as_it_was(spike_data: Path, tmp_path: Path) -> None:
    result = adam_spike.run(tmp_path / "read", spike_data, "default", "source-only", 0,
                            steps=8, every=4, iters=2, window=range(5, 7))  # fmt: skip
    plain = adam_spike.spike_config(tmp_path / "plain", spike_data, "default", "source-only", 0, 8)
    train(dataclasses.replace(plain, log_every=1))
    log = [json.loads(x) for x in (tmp_path / "plain" / "metrics.jsonl").read_text().splitlines()]
    losses = {r["step"]: r["loss"]["au"] for r in log if r["kind"] == "train"}
    # the reading run logs every 10 steps and where it stops: steps 4, 5, 6 and 8
    assert [s for s, _ in result["au_loss"]] == [4, 5, 6, 8]
    assert losses[5] == result["au_loss"][1][1] and losses[6] == result["au_loss"][2][1]
    assert result["au_loss"][0][1] == pytest.approx(sum(losses[s] for s in range(1, 5)) / 4)
    readings = {r["step"]: r for r in result["readings"]}
    assert sorted(readings) == [4, 5, 6, 8]
    # the last batch's gradient is read only where the reading before was one step earlier
    assert [("batch_grad_rms" in readings[s]) for s in (4, 5, 6, 8)] == [False, True, True, False]
    for r in readings.values():
        assert r["update_rms_lr"] > 0 and np.isfinite(r["lambda_p"]) and r["lambda_h"] != 0
        assert r["lambda_p_over_threshold"] == pytest.approx(r["lambda_p"] / 6000)
    assert result["threshold"] == pytest.approx(6000)


def test_the_eps_variant_sets_adams_eps(spike_data: Path, tmp_path: Path) -> None:
    result = adam_spike.run(tmp_path, spike_data, "eps-1e-6", "source-only", 0, steps=2,
                            every=2, iters=1)  # fmt: skip
    assert result["adam_eps"] == 1e-6
    assert "eps" not in result["config"]


def _reading(step: int, ratio: float, **extra: float) -> dict:
    return {
        "step": step,
        "loss": 0.01 * step,
        "update_rms_lr": 0.1,
        "update_max_lr": 1.0,
        "share_update_over_1lr": 0.25,
        "lambda_h": 5.0,
        "lambda_p_over_threshold": ratio,
        **extra,
    }


def test_the_step_table_centres_on_the_first_crossing() -> None:
    batch = {"batch_grad_rms": 1.0, "batch_grad_over_rootv_p99": 2.0}
    readings = [_reading(10, 5.0)]  # read 10 steps apart: not a row
    readings += [_reading(s, 1.5 if s in (24, 30) else 0.5, **batch) for s in range(11, 32)]
    table = adam_spike.window_table({"readings": readings}, before=2, after=1)
    steps = [int(row.split("|")[1]) for row in table.splitlines()[2:]]
    assert steps == [22, 23, 24, 25]
    assert "| 24 | 0.2400 | 2.00 | 0.10 | 1.0 | 25.0 % | 5.0 | 1.50 |" in table


def test_the_first_spike_is_10x_the_lowest_earlier_loss() -> None:
    log = [[100, 0.5], [200, 0.01], [300, 0.099], [400, 0.2], [450, 0.3], [500, 0.9], [600, 0.1]]
    assert adam_spike.first_spike(log) == (400, 0.01, 0.3)  # the peak within 100 steps
    assert adam_spike.first_spike(log[:3]) is None
    assert adam_spike.first_spike([[10, 0.001], [100, 0.5], [200, 0.009]]) is None  # step 100


def test_the_variants_table_counts_runs_that_spike() -> None:
    def result(variant: str, seed: int, log: list, method: str = "source-only") -> dict:
        return {"variant": variant, "seed": seed, "threshold": 6000.0, "au_loss": log,
                "method": method}  # fmt: skip

    spiking = [[100, 0.5], [200, 0.01], [300, 0.2], [310, 0.3], [600, 0.002]]
    calm = [[100, 0.5], [200, 0.01], [300, 0.02], [600, 0.004]]
    runs = [result("default", 1, calm), result("default", 0, spiking), result("lr-5e-4", 0, calm)]
    runs.insert(0, result("default", 0, calm[:3], method="d2ca"))
    rows = adam_spike.variants_table(runs).splitlines()[2:]
    assert rows == [
        "| source-only | default | 6000 | 600 | 2 | 1 of 2 | 300: 0.0100 → 0.300; none | 0.1100 "
        "| 0.0030 |",
        "| source-only | lr-5e-4 | 6000 | 600 | 1 | 0 of 1 | none | 0.0200 | 0.0040 |",
        "| d2ca | default | 6000 | 300 | 1 | 0 of 1 | none | 0.0200 | 0.0200 |",
    ]


ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "docs" / "training" / "adam-spike"


def _study(sub: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((STUDY / sub).glob("*.json"))}


def test_stability_md_carries_the_tables_of_the_committed_runs() -> None:
    doc = {line.strip() for line in (ROOT / "docs" / "stability.md").read_text().splitlines()}
    rows = [x for x in adam_spike.report(STUDY).splitlines() if x.startswith("| ")]
    assert len(rows) == 3 * 14 + 1 + 6 + 2  # three steps tables; the variants table
    assert [row for row in rows if row not in doc] == []


def test_stability_md_reads_the_committed_runs() -> None:
    doc = " ".join((ROOT / "docs" / "stability.md").read_text().split())
    steps = _study("steps")
    for name, result in steps.items():
        readings = result["readings"]
        first = next(
            r["step"]
            for r in readings
            if "batch_grad_rms" in r and r["lambda_p_over_threshold"] >= 1
        )
        before = [r for r in readings if r["step"] < first]
        # "in no reading before a crossing did more than 0.03 % ... exceed 3 sqrt(v_hat)"
        assert max(r["share_grad_over_3rootv"] for r in before) <= 0.0003, name
        assert {"default__source-only__s0": 491, "default__source-only__s1": 582,
                "default__d2ca__s0": 475}[name] == first  # fmt: skip
    variants = _study("variants")
    assert len(variants) == 6 * 3 + 2 * 2
    spikes = {k: adam_spike.first_spike(r["au_loss"]) for k, r in variants.items()}

    def of(variant: str, method: str = "source-only") -> list:
        return [s for k, s in spikes.items() if k.startswith(f"{variant}__{method}__")]

    adam = [s for k, s in spikes.items() if "source-only" in k and "update-clip" not in k]
    lows, peaks = [s[1] for s in adam if s], [s[2] for s in adam if s]
    assert f"fallen to {min(lows):.4f}-{max(lows):.4f}" in doc
    assert f"(peaks {min(peaks):.2f}-{max(peaks):.2f})" in doc
    assert f"against {min(peaks):.2f}-{max(peaks):.2f} for every other setting" in doc
    default = [s[2] for s in of("default")]
    assert f"(the default's {min(default):.2f}-{max(default):.2f})" in doc

    def first_steps(variant: str) -> str:
        found = sorted(s[0] for s in of(variant) if s)
        return f"{found[0]}-{found[-1]}"

    assert f"steps {first_steps('beta1-0.9')} (default {first_steps('default')})" in doc
    assert f"delays it to {first_steps('lr-5e-4')}, or past step 1,500 in one seed" in doc
    assert f"forward to steps {first_steps('beta2-0.99')}" in doc
    assert f"in every seed too (steps {first_steps('eps-1e-6')})" in doc
    back = []
    for k, s in spikes.items():
        if s and "source-only" in k and "update-clip" not in k:
            log = variants[k]["au_loss"]
            peak = max((st for st, _ in log if s[0] <= st < s[0] + 100), key=dict(log).get)
            back.append(next(st for st, v in log if st > peak and v < 0.05) - s[0])
    assert f"back under 0.05 {min(back)}-{max(back)} steps later" in doc
    clipped = of("update-clip")
    lo, hi = [s[1] for s in clipped], [s[2] for s in clipped]
    assert (
        f"over its lows ({min(lo):.4f}-{max(lo):.4f}), but only to {min(hi):.3f}-{max(hi):.3f}"
        in doc
    )
    d2ca = {v: [variants[f"{v}__d2ca__s{i}"] for i in (0, 1)] for v in ("default", "update-clip")}
    assert [s and s[0] for s in of("default", "d2ca")] == [490, 400]
    assert of("update-clip", "d2ca") == [None, None]
    rises = " and ".join(f"{r['au_loss_rise']:.1f}x" for r in d2ca["update-clip"])
    assert f"(its largest rises {rises})" in doc
    beta1 = [_study("long")[f"beta1-0.9__d2ca__s{i}"] for i in (0, 1)]
    assert [adam_spike.first_spike([x for x in r["au_loss"] if x[0] <= 1200]) for r in beta1] == [
        None,
        None,
    ]
    late = [adam_spike.first_spike(r["au_loss"]) for r in beta1]
    assert [s[0] for s in late] == [1450, 2040]
    assert max(s[2] for s in late) < min(s[2] for s in of("default", "d2ca")) / 8
    lows = " and ".join(f"{s[1]:.4f}" for s in late)
    peaks = " and ".join(f"{s[2]:.3f}" for s in late)
    assert f"from {lows} to peaks of {peaks} (plain" in doc
    plain = " and ".join(f"{s[2]:.3f}" for s in of("default", "d2ca"))
    assert f"Adam's D2CA runs: {plain} at steps 490 and 400)" in doc
    back = []
    for r, s in zip(beta1, late, strict=True):
        log = r["au_loss"]
        peak = max((st for st, _ in log if s[0] <= st < s[0] + 100), key=dict(log).get)
        back.append(str(next(st for st, v in log if st > peak and v < 0.003) - s[0]))
    rises = " and ".join(f"{r['au_loss_rise']:.1f}x" for r in beta1)
    ends = " and ".join(f"{r['au_loss'][-1][1]:.4f}" for r in beta1)
    assert f"within {' and '.join(back)} steps (largest rises {rises}; `L_au^s` {ends}" in doc
    long = [_study("long")[f"update-clip__d2ca__s{i}"] for i in (0, 1)]
    for run, short in zip(long, d2ca["update-clip"], strict=True):  # the same runs, longer
        assert run["au_loss"][: len(short["au_loss"])] == short["au_loss"]
        assert adam_spike.first_spike([x for x in run["au_loss"] if x[0] <= 1500]) is None
    clip = [adam_spike.first_spike(r["au_loss"]) for r in long]
    assert f"at steps {clip[0][0]} and {clip[1][0]}, from" in doc
    lows = " and ".join(f"{s[1]:.4f}" for s in clip)
    peaks = " and ".join(f"{s[2]:.4f}" for s in clip)
    rises = " and ".join(f"{r['au_loss_rise']:.1f}x" for r in long)
    ends = " and ".join(f"{r['au_loss'][-1][1]:.4f}" for r in long)
    assert (
        f"from {lows} to peaks of {peaks} (largest rises {rises}; `L_au^s` {ends} at step 2,400)"
        in doc
    )
    plain = of("default", "d2ca")
    for name, found in (("delays the spike by", late), ("delays it by", clip)):
        assert f"{name} {found[0][0] - plain[0][0]} and {found[1][0] - plain[1][0]} steps" in doc
    for name, found in (("peak", late), ("lowers it", clip)):
        times = [f"{p[2] / f[2]:.1f}" for p, f in zip(plain, found, strict=True)]
        assert f"{name} {times[0]} and {times[1]} times" in doc
    ratios = " and ".join(f"{b[2] / c[2]:.1f}" for b, c in zip(late, clip, strict=True))
    assert f"its peaks {ratios} times higher" in doc
    summary = (  # the section's opening summary
        f"comes {min(f[0] - p[0] for f, p in zip(clip, plain, strict=True)):,} steps or more "
        "later and peaks over 50 times lower than with plain Adam"
    )
    assert summary in doc and min(p[2] / f[2] for p, f in zip(plain, clip, strict=True)) > 50
    again = _study("foreach-check")["update-clip__d2ca__s0"]["au_loss"]  # the optimiser now
    before = variants["update-clip__d2ca__s0"]["au_loss"]
    diff = [abs(a[1] - b[1]) / b[1] for a, b in zip(again, before, strict=False)]
    assert [a[0] for a in again] == [b[0] for b in before[: len(again)]] and again[-1][0] == 300
    assert 0 < min(diff)  # not the same run to the bit: rounding differs
    assert f"within {100 * max(diff):.1f} % of the committed run's" in doc
    assert f"logged step, {100 * sum(diff) / len(diff):.1f} % on average" in doc


def test_stability_md_reads_the_grid_with_update_clipping(capsys: pytest.CaptureFixture) -> None:
    """The cost of update clipping on the CPU grid: report_beta1.py's table of the committed
    JSONs, and the differences of the means quoted beside it."""
    import statistics

    sys.path.insert(0, str(ROOT / "benchmarks" / "synthau"))
    import report_beta1
    from report_data import adam_study, load_results

    grid = ROOT / "docs" / "benchmark-synthetic"
    assert adam_study(grid / "update-clip") and not adam_study(grid / "rerun")
    report_beta1.main(["--base", str(grid / "rerun"), "--other", str(grid / "update-clip"),
                       "--method", "d2ca", "--runs", str(ROOT / "no-runs")])  # fmt: skip
    out = capsys.readouterr().out
    doc = (ROOT / "docs" / "stability.md").read_text()
    table = [ln for ln in out.splitlines() if ln.startswith("|")]
    assert len(table) == 10 and all(ln in doc for ln in table)
    assert "+ update clipping at or above 0.5's: 6 of 12 pair-seeds." in out
    base, clipped = (load_results(grid / f)[0] for f in ("rerun", "update-clip"))
    pairs = [("lab-b", "lab-a"), ("lab-b", "lab-c"), ("social", "lab-a"), ("wild", "lab-a")]
    drops = [
        100 * (statistics.fmean(r["avg_f1"] for r in base[p]["d2ca"])
               - statistics.fmean(r["avg_f1"] for r in clipped[p]["d2ca"]))
        for p in pairs
    ]  # fmt: skip
    quoted = ", ".join(f"{d:.1f}" for d in drops[:-1]) + f" and {drops[-1]:.1f}"
    assert f"lower, by {quoted} points" in " ".join(doc.split())
