"""The SynthAU grid's scales (benchmarks/synthau/run_table.py --scale), at a tiny size on the
CPU: the CPU grid's configs unchanged, one JSON per run and the scale's page, resuming a run
that was stopped, the time budget, packing for the next device call."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_synthau_e2e import TINY

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "synthau"
sys.path.insert(0, str(BENCH))

import budget  # noqa: E402
import pack  # noqa: E402
import run_table  # noqa: E402
import scales  # noqa: E402

from d2ca.train.checkpoint import latest_checkpoint  # noqa: E402
from d2ca.train.config import TrainConfig  # noqa: E402

METHODS = scales.METHODS


def tiny_scale(root: Path, **changes) -> scales.Scale:
    """A scale of two 10-subject domains at 32x32 and a few steps, in ``root`` (6 frames a
    subject: the fewest that leave AUs with 5 positives in both splits to score)."""
    fields = dict(
        name="tiny", image_size=32, subjects=10, frames_per_subject=6,
        model={k: tuple(v) if isinstance(v, list) else v for k, v in TINY.items()
               if k != "image_size"},
        batch=8, sampler_subjects=4, steps=dict.fromkeys(METHODS, 4), epochs=None,
        eval_every=2, checkpoint_every=2, oracle_budget={"steps": 4},
        oracle={"id_steps": 4, "pairs": 16, "seed": 1000}, pairs=(("lab-a", "wild"),),
        screen=(), step_s=dict.fromkeys(METHODS, 0.01), run_s=1.0, stop_margin_s=0.0,
        results=root / "results", doc=root / "page.md", work=root / "work",
        device="cpu",  # resumes bit-identically only on the CPU (on a GPU machine too)
    )  # fmt: skip
    return scales.Scale(**(fields | changes))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The two tiny domains, rendered once for every test (``data/lab-a``, ``data/wild``)."""
    scale = tiny_scale(tmp_path_factory.mktemp("rendered"))
    run_table.render_data(scale, {"lab-a", "wild"})
    return scale.work / "data"


@pytest.fixture
def root(tmp_path, rendered) -> Path:
    """A folder whose work folder holds the rendered domains (the driver renders nothing)."""
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "data").symlink_to(rendered)
    return tmp_path


@pytest.fixture
def one_thread():
    """One torch thread, as the driver's workers (on a loaded CPU two are far slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny(root, monkeypatch, one_thread):
    """``--scale tiny`` for the driver in this process."""
    scale = tiny_scale(root)
    monkeypatch.setitem(scales.SCALES, "tiny", scale)
    return scale


def test_scales_build_their_configs(tmp_path, rendered):
    """The CPU grid's TrainConfig, run folders and JSON fields are those of before scales."""
    old = dict(
        source="S", target="T", batch_size=16, subjects=4, log_every=10, progress=False,
        model={"enc_widths": [12, 16, 24, 32, 48, 48, 64, 64], "dec_widths": [32, 24, 16, 16, 8, 8],
               "dec_aux_channels": 4, "disc_widths": [8, 16, 32], "proj_hidden": 32,
               "proj_dim": 16, "image_size": 64},
    )  # fmt: skip
    for method, steps in (("d2ca", 500), ("source-only", 2000)):
        out = run_table.run_dir(scales.CPU, "lab-b", "lab-a", method, 0)
        assert out == Path(f"/tmp/d2ca-synthau/runs/lab-b_to_lab-a__{method}__seed0__steps{steps}")
        built = run_table.train_config(scales.CPU, Path("S"), Path("T"), method, 0, out)
        expected = TrainConfig(**old, method=method, seed=0, steps=steps, warmup_steps=0,
                               eval_every=100, checkpoint_every=steps,
                               out_dir=str(out))  # fmt: skip
        assert built == expected
    # the values a JSON of the CPU grid recorded
    recorded = json.loads(
        (ROOT / "docs/benchmark-synthetic/lab-b_to_lab-a__d2ca__seed0.json").read_text()
    )
    assert scales.CPU.model_config() == recorded["config"]
    assert (scales.CPU.batch, scales.CPU.budget("d2ca")["steps"]) == (
        recorded["batch_size"],
        recorded["steps"],
    )
    assert {k: v for k, v in recorded["data"].items() if k != "seeds"} == scales.CPU.data
    # the options keep their old folder names
    p8 = scales.CPU.with_options(sampler_subjects=8, warmup_steps=50)
    assert (
        run_table.run_dir(p8, "a", "b", "d2ca", 1).name
        == "a_to_b__d2ca__seed1__steps500__warmup50__P8"
    )
    assert run_table.run_dir(p8, "a", "b", "dann", 1).name == "a_to_b__dann__seed1__steps2000__P8"
    every = scales.CPU.with_options(checkpoint_every=250)
    built = run_table.train_config(every, Path("S"), Path("T"), "d2ca", 0, out)
    assert built.checkpoint_every == 250
    # the paper's scale: the default network, batch 128, 50 epochs for every method, bf16;
    # an evaluation every 5 epochs (on the tiny data, 36 faces: an epoch is one step)
    src, tgt = rendered / "lab-a", rendered / "wild"
    paper = run_table.train_config(scales.PAPER, src, tgt, "dann", 0, tmp_path)
    assert (paper.model, paper.batch_size, paper.subjects) == ({"image_size": 128}, 128, 8)
    assert (paper.epochs, paper.steps, paper.bf16, paper.checkpoint_every) == (50, None, True, 100)
    assert paper.eval_every == 5 and budget.steps_left(paper) == 50
    assert run_table.run_dir(scales.PAPER, "a", "b", "d2ca", 0).name == (
        "a_to_b__d2ca__seed0__paper__epochs50"
    )
    assert scales.PAPER.with_options(epochs=20).budget("target-only") == {"epochs": 20}


def test_driver_end_to_end(tiny, capsys):
    """Oracles, a baseline and D2CA: one JSON per run (the scale recorded), then the page."""
    run_table.main(["--scale", "tiny", "--methods", "source-only", "d2ca", "--seeds", "0",
                    "--workers", "1"])  # fmt: skip
    names = sorted(p.name for p in tiny.results.glob("*.json"))
    assert names == [
        "lab-a_to_wild__d2ca__seed0.json",
        "lab-a_to_wild__source-only__seed0.json",
        "reference__lab-a_to_wild.json",
    ]
    run = json.loads((tiny.results / names[0]).read_text())
    assert (run["scale"], run["steps"], run["batch_size"], run["config"]["image_size"]) == (
        "tiny", 4, 8, 32
    )  # fmt: skip
    assert [s for s, _ in run["target_curve"]] == [2, 4] and "quality" in run
    assert run["aus"] == ["AU06", "AU12"] and 0 <= run["avg_f1"] <= 1 and "au_loss_rise" in run
    page = tiny.doc.read_text()
    assert "What the scale changed" in page and "| lab-a → wild |" in page
    assert "## Stability" in page and "| D2CA | 1 | 0 |" in page  # 4 steps: no rise measured
    assert "| faces | 64×64 | 32×32 |" in page
    # a checkpoint scored again by translation_quality.py: the same oracles, the same figures
    import translation_quality

    model = run_table.run_dir(tiny, "lab-a", "wild", "d2ca", 0) / "model"
    out = tiny.results.parent / "translation.json"
    translation_quality.main(["--scale", "tiny", "--pair", "lab-a:wild", "--out", str(out),
                              str(model)])  # fmt: skip
    scored = json.loads(out.read_text())
    again, first = scored["models"][str(model)], run["quality"]
    assert again["au_transfer"] == first["au_transfer"]
    assert (again["identity_top1"], again["n_pairs"]) == (first["identity_top1"], 16)
    assert again["fid"] == pytest.approx(first["fid"], rel=1e-4)
    reference = json.loads((tiny.results / names[2]).read_text())
    for key in ("au_oracle_on_source", "au_oracle_on_target", "identity_top1_real"):
        assert scored["reference"][key] == reference[key], key
    for bad in (["--pair", "lab-a-wild"], ["--pair", "lab-a:wild"]):  # no colon; --out exists
        with pytest.raises(SystemExit) as stop:
            translation_quality.main(["--scale", "tiny", *bad, "--out", str(out), str(model)])
        assert stop.value.code == 2
    assert json.loads(out.read_text()) == scored  # the existing output is kept
    # nothing to do the second time: every run has its JSON
    capsys.readouterr()
    run_table.main(["--scale", "tiny", "--methods", "source-only", "--seeds", "0",
                    "--workers", "1", "--no-quality"])  # fmt: skip
    assert "avg F1" not in capsys.readouterr().out


def test_paper_page_without_runs_says_so(tmp_path):
    scale = scales.PAPER.with_options(results=tmp_path / "none")
    text = run_table.render_paper_document(scale, {"pairs": [], "methods": [], "seeds": []})
    assert "No runs yet: they need a GPU." in text and "| faces | 64×64 | 128×128 |" in text


def test_cpu_runs_read_each_pairs_gap_from_both_splits(tmp_path):
    """A CPU run's model read on its source's validation split is half of another pair's
    real-gap test: Target only of a -> b is Source only of b -> a; Source only of a -> b is
    Target only into a. Only readings of one split are compared, on the seed means."""
    import report_paper

    def run(method, source, target, tgt, src, seed=0):
        steps = [100, 200, 300, 400, 500]
        return {"method": method, "source": source, "target": target, "seed": seed,
                "steps": 500, "wall_time_s": 60.0,
                "target_curve": [[s, f] for s, f in zip(steps, tgt, strict=True)],
                "source_curve": [[s, f] for s, f in zip(steps, src, strict=True)]}  # fmt: skip

    folder = tmp_path / "cpu"
    runs = [  # b learnable; a model of b reads 0.70 on a; a model of a reads 0.50 / 0.90
        run("target-only", "a", "b", [0.6, 0.8, 0.8, 0.8, 0.81], [0.6, 0.7, 0.7, 0.7, 0.70]),
        run("source-only", "a", "b", [0.4, 0.5, 0.5, 0.5, 0.50], [0.8, 0.9, 0.9, 0.9, 0.90]),
        run("target-only", "a", "c", [0.1, 0.2, 0.2, 0.2, 0.20], [0.2, 0.3, 0.4, 0.5, 0.60]),
        run("target-only", "a", "b", [0.6, 0.8, 0.8, 0.8, 0.85], [0.6, 0.7, 0.7, 0.7, 0.70], 1),
        run("source-only", "a", "b", [0.4, 0.5, 0.5, 0.6, 0.64], [0.8, 0.9, 0.9, 0.9, 0.90], 1),
    ]
    for i, r in enumerate(runs):
        run_table.write_json(folder / f"{i}.json", r)
    for run, f1 in {"a_to_b__target-only": 0.72, "a_to_b__source-only": 0.88}.items():
        run_table.write_json(folder / "final-on-test" / f"{run}.json", {  # d2ca evaluate --json
            "model": f"/w/runs/{run}__seed0__paper__epochs50/model",
            "data": "/w/data/a/manifest.csv", "avg_f1": f1})  # fmt: skip
    pairs = [("b", "a"), ("a", "b"), ("c", "a"), ("a", "c"), ("c", "b")]
    text = report_paper.cpu_section(folder, pairs)
    # a's model read on a is Target only; the final models (d2ca evaluate's JSONs): seed 0 only
    row = (
        "| b → a | 2 | validation | 70.0 | 90.0 | +20.0 (+20.0, +20.0) | 0.0 (0.0) | yes | "
        "72.0 / 88.0 (+16.0) |"
    )
    assert row in text
    # seed means; seed 1's Source only still moved 4 points, the mean 2: no plateau
    row = (
        "| a → b | 2 | test | 57.0 | 83.0 | +26.0 (+31.0, +21.0) | 2.0 (4.0) | **no** | "
        "57.0 / 83.0 (+26.0) |"
    )
    assert row in text
    # c's model is still rising on a (0.5 -> 0.6 over the last fifth); only seed 0 reads it
    assert "| c → a | 1 | validation | 60.0 | 90.0 | +30.0 | 10.0 (10.0) | **no** | – |" in text
    assert "| a → c | 1 | test | – | 20.0 | – | – | **no** | – |" in text  # c is not learnable
    assert "Not yet readable from these runs: `c → b`." in text  # no model of c read on b
    assert "- `c`: Target only at best 20.0 (seed 0): not learnable at this scale." in text
    assert "- `b`: Target only at best 81.0 (seed 0), 85.0 (seed 1): learnable" in text


def test_a_stopped_run_resumes_where_it_stopped(root, one_thread):
    """Stopped at the deadline after its first stretch, resumed, equal to an unbroken run."""
    scale = tiny_scale(root, steps=dict.fromkeys(METHODS, 6))
    data = run_table.render_data(scale, {"lab-a", "wild"})

    def config(name: str) -> TrainConfig:
        return run_table.train_config(scale, data["lab-a"], data["wild"], "d2ca", 0, root / name)

    with pytest.raises(budget.OutOfTime, match="stopped at step 2 of 6"):
        budget.train(config("stopped"), deadline=time.time())  # the first stretch, no more
    assert budget.steps_left(config("stopped")) == 4
    assert budget.train(config("stopped")) is None  # None: it resumed
    assert budget.train(config("whole")) is not None
    a, b = (load_file(str(root / n / "model" / "model.safetensors")) for n in ("stopped", "whole"))
    assert all(torch.equal(a[k], b[k]) for k in a), "the resumed run differs from the unbroken one"
    steps = [json.loads(x)["step"] for x in (root / "stopped" / "metrics.jsonl").open()]
    assert steps == [json.loads(x)["step"] for x in (root / "whole" / "metrics.jsonl").open()]


DRIVER = """
import sys
from pathlib import Path
sys.path[:0] = [{tests!r}, {bench!r}]
import scales, run_table
from test_synthau_scale import tiny_scale
scales.SCALES["tiny"] = tiny_scale(Path({root!r}), steps=dict.fromkeys(scales.METHODS, 400))
run_table.main(sys.argv[1:])
"""


def test_budget_and_signals_stop_runs_at_a_checkpoint(tiny, root, capfd):
    long = tiny_scale(root, steps=dict.fromkeys(METHODS, 400))
    scales.SCALES["tiny"] = long
    argv = ["--scale", "tiny", "--methods", "source-only", "--seeds", "0", "--workers", "1"]
    out = run_table.run_dir(long, "lab-a", "wild", "source-only", 0)
    # 1. a run not expected to end within the budget is not started
    run_table.main([*argv, "--budget-s", "2"])
    assert "left for a later invocation (1)" in capfd.readouterr().out and not out.exists()
    # 2. SIGTERM (a device call's time limit) stops the driver cleanly at a checkpoint
    code = DRIVER.format(tests=str(ROOT / "tests"), bench=str(BENCH), root=str(root))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen([sys.executable, "-c", code, *argv], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 120
    while latest_checkpoint(out / "checkpoints") is None and time.time() < deadline:
        assert driver.poll() is None, driver.communicate()
        time.sleep(0.05)
    driver.send_signal(signal.SIGTERM)
    stdout, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 0, stderr
    assert "stopped: unfinished runs resume from their last checkpoint" in stdout
    stopped = int(latest_checkpoint(out / "checkpoints").name.split("-")[1])
    assert (
        2 <= stopped < 400
        and not (tiny.results / "lab-a_to_wild__source-only__seed0.json").exists()
    )
    # 3. the next invocation resumes from that checkpoint, and its budget stops it in time
    t0 = time.time()
    run_table.main([*argv, "--budget-s", "4", "--partial"])
    took = time.time() - t0
    err = capfd.readouterr().err
    assert f"resumed from {out / 'checkpoints'}" in err and f"(step {stopped})" in err
    again = int(latest_checkpoint(out / "checkpoints").name.split("-")[1])
    assert stopped < again < 400 and took < 4 + 10, took


def test_pack_carries_results_and_stopped_runs(root, one_thread):
    scale = tiny_scale(root, steps=dict.fromkeys(METHODS, 6))
    data = run_table.render_data(scale, {"lab-a", "wild"})
    out = run_table.run_dir(scale, "lab-a", "wild", "source-only", 0)
    config = run_table.train_config(scale, data["lab-a"], data["wild"], "source-only", 0, out)
    with pytest.raises(budget.OutOfTime):
        budget.train(config, deadline=time.time())
    run_table.write_json(scale.results / "screen" / "x.json", {"a": 1})
    files = pack.pack(scale, root / "OUT")
    assert [f.name for f in files] == ["results.tar.gz", "runs.tar.gz.00"]
    there = scale.with_options(work=root / "w2", results=root / "r2")
    pack.unpack(there, [root / "OUT"])
    assert json.loads((there.results / "screen" / "x.json").read_text()) == {"a": 1}
    moved = there.work / out.relative_to(scale.work)
    assert latest_checkpoint(moved / "checkpoints").name == "step-00000002"
    assert (moved / "metrics.jsonl").read_text() == (out / "metrics.jsonl").read_text()
    # with no room for checkpoints the results still travel
    assert [f.name for f in pack.pack(scale, root / "OUT2", max_mib=0)] == ["results.tar.gz"]


def test_beta1_reaches_the_runs_and_their_folders(root):
    scale = tiny_scale(root).with_options(beta1=0.9)
    config = run_table.train_config(scale, root / "s", root / "t", "d2ca", 0, root / "run")
    assert config.betas == (0.9, 0.999)
    assert scale.tag("d2ca").endswith("__beta1-0.9") and "beta1" not in tiny_scale(root).tag("d2ca")
    default = run_table.train_config(tiny_scale(root), root / "s", root / "t", "d2ca", 0, root)
    assert default.betas == (0.5, 0.999)  # TrainConfig's
    assert not default.update_clip and "update-clip" not in tiny_scale(root).tag("d2ca")


def test_update_clip_reaches_the_runs_and_their_folders(root):
    scale = tiny_scale(root).with_options(beta1=0.9, update_clip=True)
    config = run_table.train_config(scale, root / "s", root / "t", "dann", 0, root / "run")
    assert config.update_clip and config.betas == (0.9, 0.999)
    assert scale.tag("dann").endswith("__beta1-0.9__update-clip")
    assert not tiny_scale(root).with_options(update_clip=None).update_clip


def test_paper_network_reaches_the_runs_and_their_folders(tiny, root):
    """``--paper-network``: the default network's config, a folder of its own, and no oracle
    measures (the oracles are the scale's network's)."""
    scale = tiny.with_options(paper_network=True)
    config = run_table.train_config(scale, root / "s", root / "t", "d2ca", 0, root / "run")
    assert config.model == {"image_size": 32} and tiny.model
    assert scale.tag("d2ca").endswith("__paper-net") and "paper-net" not in tiny.tag("d2ca")
    with pytest.raises(SystemExit) as stop:
        run_table.main(["--scale", "tiny", "--paper-network", "--render-only"])
    assert stop.value.code == 2


def test_network_section_sets_the_networks_side_by_side(tmp_path):
    """report_network.py: the paper's network's runs (an extended D2CA run replacing its
    500-step one) beside the grid's, with the gap and the share of it D2CA closes."""
    import report_network

    def result(method, curve, seed=0, config=None, **extra):
        return {"source": "lab-b", "target": "lab-a", "method": method, "seed": seed,
                "steps": max(s for s, _ in curve), "subjects": 8, "batch_size": 16,
                "target_curve": [list(c) for c in curve], "avg_f1": curve[-1][1],
                "config": config or {"image_size": 64}, **extra}  # fmt: skip

    net, cont = tmp_path / "paper-net", tmp_path / "paper-net-equal-steps"
    for method, curve in (("source-only", ((500, 0.3), (2000, 0.4))),
                          ("target-only", ((2000, 0.7),)), ("d2ca", ((500, 0.45),))):  # fmt: skip
        run_table.write_json(net / f"lab-b_to_lab-a__{method}__seed0.json", result(method, curve))
    longer = result("d2ca", ((500, 0.45), (2000, 0.5)), extended_from="x__steps500")
    run_table.write_json(cont / "lab-b_to_lab-a__d2ca__seed0.json", longer)
    assert report_network.is_network_folder(net) and report_network.is_network_folder(cont)
    narrow = {"image_size": 64, "enc_widths": [12] * 8}
    run_table.write_json(tmp_path / "grid" / "a.json", result("d2ca", ((500, 0),), config=narrow))
    assert not report_network.is_network_folder(tmp_path / "grid")
    so, to = result("source-only", ((500, 0.2), (2000, 0.3))), result("target-only", ((2000, 0.5),))
    grid = {("lab-b", "lab-a"): {"source-only": [so], "target-only": [to]}}
    grid_d2ca = {("lab-b", "lab-a"): {"d2ca": [result("d2ca", ((500, 0.25), (2000, 0.35)))]}}
    screened = result("target-only", ((2000, 0.1),)) | {"source": "lab-a", "target": "wild"}
    run_table.write_json(net / "lab-a_to_wild__target-only__seed0.json", screened)
    text = report_network.network_section(net, grid, grid_d2ca)
    assert "--pairs lab-b:lab-a --subjects 8 " in text
    assert "and Source only and Target only on lab-a → wild, seed 0;" in text
    assert "| lab-a → wild | the paper's | – | – | – | – | – | 10.0 ± 0.0 | – | – | – |" in text
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| lab-b")}
    assert rows["the paper's"] == (
        "| lab-b → lab-a | the paper's | 30.0 ± 0.0 | 40.0 ± 0.0 | – | "
        "45.0 ± 0.0 | 50.0 ± 0.0 | 70.0 ± 0.0 | 30.0 | 17% | 33% |"
    )
    assert rows["the grid's"].endswith(
        "| 25.0 ± 0.0 | 35.0 ± 0.0 | 50.0 ± 0.0 | 20.0 | -25% | 25% |"
    )
    assert (
        "the grid's network: +5.0 / +5.0; lab-b → lab-a, the paper's network: +15.0 / +10.0."
        in text
    )


def test_batch_reaches_the_runs_and_their_folders(tiny, root):
    """``--batch``: the trainer's batch, a folder of its own, and the scale's batch otherwise."""
    scale = tiny.with_options(batch=4 * tiny.batch, sampler_subjects=2 * tiny.sampler_subjects)
    config = run_table.train_config(scale, root / "s", root / "t", "d2ca", 0, root / "run")
    assert config.batch_size == 4 * tiny.batch and config.subjects == 2 * tiny.sampler_subjects
    assert f"__B{4 * tiny.batch}__P" in scale.tag("d2ca") and "__B" not in tiny.tag("d2ca")


def test_batch_section_sets_the_batches_side_by_side(tmp_path):
    """report_network.batch_section: runs at batch 64 (D2CA to step 1000) beside the grid's at
    16, at the same steps: D2CA's second column is the folder's D2CA budget."""
    import report_network

    def result(method, curve, batch=64, **extra):
        return {"source": "lab-b", "target": "lab-a", "method": method, "seed": 0,
                "steps": max(s for s, _ in curve), "subjects": batch // 2, "batch_size": batch,
                "target_curve": [list(c) for c in curve], "avg_f1": curve[-1][1],
                "config": {"image_size": 64, "enc_widths": [12] * 8}, **extra}  # fmt: skip

    folder = tmp_path / "batch-64"
    for method, curve in (("source-only", ((500, 0.3), (1000, 0.35), (2000, 0.4))),
                          ("target-only", ((2000, 0.7),)),
                          ("d2ca", ((500, 0.4), (1000, 0.45)))):  # fmt: skip
        run_table.write_json(
            folder / f"lab-b_to_lab-a__{method}__seed0.json", result(method, curve)
        )
    assert report_network.is_batch_folder(folder)
    assert not report_network.is_network_folder(folder)
    grid_so = result("source-only", ((500, 0.2), (1000, 0.3), (2000, 0.3)), batch=16)
    grid = {("lab-b", "lab-a"): {"source-only": [grid_so]}}
    grid_d2ca = {("lab-b", "lab-a"): {"d2ca": [result("d2ca", ((500, 0.25), (1000, 0.3)), 16)]}}
    text = report_network.batch_section(folder, grid, grid_d2ca)
    assert text.startswith("## A batch of 64 on the CPU grid")
    assert "`--steps 2000`, D2CA with `--steps 1000`" in text
    assert (
        "| D2CA, step 1000 | Target only, last step | gap | gap closed | gap closed, step 1000 |"
        in text
    )
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| lab-b")}
    assert rows["64"] == (
        "| lab-b → lab-a | 64 | 30.0 ± 0.0 | 40.0 ± 0.0 | – | "
        "40.0 ± 0.0 | 45.0 ± 0.0 | 70.0 ± 0.0 | 30.0 | 0% | 17% |"
    )
    assert rows["16"].endswith("| 25.0 ± 0.0 | 30.0 ± 0.0 | – | – | – | – |")
    assert "lab-b → lab-a, batch 16: +5.0 / +0.0; lab-b → lab-a, batch 64: +10.0 / +10.0." in text
    # a second Source only seed moves its cells, not D2CA minus Source only on seed 0 alone
    seed1 = result("source-only", ((500, 0.1), (1000, 0.15), (2000, 0.2))) | {"seed": 1}
    run_table.write_json(folder / "lab-b_to_lab-a__source-only__seed1.json", seed1)
    text = report_network.batch_section(folder, grid, grid_d2ca)
    assert "| lab-b → lab-a | 64 | 20.0 ± 14.1 | 30.0 ± 14.1 |" in text
    assert "lab-b → lab-a, batch 64: +10.0 / +10.0." in text


def test_au_loss_rise_finds_a_spike_after_step_100(tmp_path):
    def log(values):
        rows = [{"kind": "diagnostics", "step": 1}] + [
            {"kind": "train", "step": 10 * i, "loss": {"au_s": v}}
            for i, v in enumerate(values, start=1)
        ]
        (tmp_path / "metrics.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
        return run_table.au_loss_rise(tmp_path)

    learning = [0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01, 0.012, 0.011, 0.009]
    assert log(learning) == pytest.approx(1.2)  # step 110: 0.012 against the low 0.01
    assert log(learning[:11] + [0.3, 0.1]) == pytest.approx(30)  # the spike at step 120
    assert log([0.7, 0.9, 0.5]) == 0.0  # nothing logged after step 100


def test_report_select_picks_what_the_trainer_would():
    """report_select.py reads the trainer's rule off a run's curves: the first evaluation
    with the best source-validation F1, and the target F1 there and at the last one."""
    import report_select

    run = {"source_curve": [[100, 0.2], [200, 0.5], [300, 0.5], [400, 0.1]],
           "target_curve": [[100, 0.1], [200, 0.3], [300, 0.4], [400, 0.05]]}  # fmt: skip
    assert report_select.selected(run) == (200, 0.3, 0.05)


def test_extend_continues_a_shorter_run_as_if_unbroken(tiny, root, rendered):
    """``--extend``: a 4-step run started from the 2-step run's checkpoint (checkpoints every
    2 steps) ends with the weights and log of a 4-step run trained from the start."""
    argv = ["--scale", "tiny", "--methods", "d2ca", "--seeds", "0", "--workers", "1",
            "--no-quality"]  # fmt: skip
    run_table.main([*argv, "--steps", "2", "--results", str(root / "r2")])
    run_table.main([*argv, "--steps", "4", "--extend", "--checkpoint-every", "2",
                    "--results", str(root / "r4")])  # fmt: skip
    (root / "w").mkdir()
    (root / "w" / "data").symlink_to(rendered)
    run_table.main([*argv, "--steps", "4", "--work", str(root / "w"),
                    "--results", str(root / "w4")])  # fmt: skip
    name = "lab-a_to_wild__d2ca__seed0"
    extended = json.loads((root / "r4" / f"{name}.json").read_text())
    whole = json.loads((root / "w4" / f"{name}.json").read_text())
    assert extended["extended_from"] == f"{name}__tiny__steps2" and whole["extended_from"] is None
    assert extended["target_curve"] == whole["target_curve"] and extended["steps"] == 4
    runs = [root / w / "runs" / f"{name}__tiny__steps4" for w in ("work", "w")]
    a, b = (load_file(str(r / "model" / "model.safetensors")) for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a), "the extended run differs from the whole one"


def test_equal_steps_section_reads_the_curves(tmp_path):
    """report_equal.py: D2CA continued to 2000 steps set against the grid's baselines at the
    same evaluations, and the folder told apart from a sampler study's."""
    import report_equal

    def result(method, target, **extra):
        curve = [[s, f] for s, f in zip((500, 1000, 1500, 2000), target, strict=True)]
        return {"source": "lab-b", "target": "lab-a", "method": method, "seed": 0,
                "steps": 2000, "subjects": 8, "batch_size": 16, "target_curve": curve,
                "source_curve": [[2000, 0.5]], "avg_f1": target[-1], **extra}  # fmt: skip

    d2ca = result("d2ca", (0.3, 0.4, 0.42, 0.45), extended_from="x__steps500", au_loss_rise=1.2)
    run_table.write_json(tmp_path / "equal" / "lab-b_to_lab-a__d2ca__seed0.json", d2ca)
    grid = {("lab-b", "lab-a"): {"source-only": [result("source-only", (0.3, 0.38, 0.4, 0.41))],
                                 "dann": [result("dann", (0.2, 0.3, 0.4, 0.5))],
                                 "target-only": [{"seed": 1, "avg_f1": 0.61}]}}  # fmt: skip
    assert report_equal.is_equal_steps_folder(tmp_path / "equal")
    text = report_equal.equal_steps_section(tmp_path / "equal", grid)
    assert (
        "| target, step 500 | target, step 1000 | target, step 1500 | target, step 2000 |" in text
    )
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| lab-b")}
    assert rows["D2CA"].endswith("| 1 | 30.0 ± 0.0 | 40.0 ± 0.0 | 42.0 ± 0.0 | 45.0 ± 0.0 | "
                                 "50.0 ± 0.0 | 1.2x |")  # fmt: skip
    assert rows["DANN"].endswith("| 20.0 ± 0.0 | 30.0 ± 0.0 | 40.0 ± 0.0 | 50.0 ± 0.0 | "
                                 "50.0 ± 0.0 | – |")  # fmt: skip
    assert (
        "at step 2000: lab-b → lab-a +4.0 (per seed +4.0; 20% of the gap closed). D2CA "
        "above Source only in 1 "
        "of 1, DANN in 0 of 1 pair-seeds." in text
    )
    run_table.write_json(tmp_path / "sampler" / "a.json", result("d2ca", (0, 0, 0, 0)))
    assert not report_equal.is_equal_steps_folder(tmp_path / "sampler")


@pytest.mark.parametrize("name", ["cpu", "paper"])
def test_the_committed_page_is_what_the_jsons_render(name):
    """docs/benchmark-synthetic.md and its paper-scale page are ``run_table.py --render-only``
    of the committed JSONs and fork logs: a figure edited by hand, or a JSON committed without
    its page, fails here."""
    scale = scales.SCALES[name]
    hint = f"run: python benchmarks/synthau/run_table.py --scale {name} --render-only"
    assert run_table.render(scale) == scale.doc.read_text(), hint


def test_rerun_section_sets_each_run_beside_its_twin(tmp_path):
    """report_rerun.py: the grid's runs trained again at a later commit, each beside its twin
    (same pair, method, seed and setup), with the gaps both ways; a folder whose runs have
    no twin, or the same commit, or another setup, is not such a folder."""
    import report_rerun

    data = {"size": 64, "subjects": 60, "frames_per_subject": 30,
            "seeds": {"lab-a": 101, "lab-b": 102}}  # fmt: skip

    def result(method, seed, f1, code, source=0.5, **extra):
        return {"source": "lab-b", "target": "lab-a", "method": method, "seed": seed,
                "steps": 2000, "batch_size": 16, "config": {"image_size": 64}, "data": data,
                "code": code, "avg_f1": f1, "source_curve": [[2000, source]], **extra}  # fmt: skip

    grid_f1 = {"source-only": (0.40, 0.44, "aaa"), "d2ca": (0.42, 0.44, "bbb"),
               "target-only": (0.60, 0.60, "aaa")}  # fmt: skip
    grid = {("lab-b", "lab-a"): {m: [result(m, 0, a, code), result(m, 1, b, code)]
                                 for m, (a, b, code) in grid_f1.items()}}  # fmt: skip
    folder = tmp_path / "rerun"
    again = {("source-only", 0): 0.38, ("source-only", 1): 0.46, ("d2ca", 0): 0.45,
             ("d2ca", 1): 0.43, ("target-only", 0): 0.62, ("target-only", 1): 0.58}  # fmt: skip
    for (method, seed), f1 in again.items():
        rise = 40.0 if method == "source-only" and seed == 1 else 1.5
        run = result(method, seed, f1, "ccc", subjects=4, au_loss_rise=rise)
        run_table.write_json(folder / f"lab-b_to_lab-a__{method}__seed{seed}.json", run)
    # a later JSON lists more domains' seeds: the same rendering of the pair's two domains
    late = result("dann", 0, 0.5, "ccc") | {"data": {**data, "seeds": {**data["seeds"], "x": 1}}}
    assert report_rerun._data(late) == report_rerun._data(grid[("lab-b", "lab-a")]["d2ca"][0])
    assert report_rerun.is_rerun_folder(folder, grid)
    text = report_rerun.rerun_section(folder, grid)
    assert text.startswith("## The grid again on later code")
    assert "trained at commits aaa, bbb." in text and "trained again at ccc:" in text
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| lab-b")}
    assert rows["Source only"] == (
        "| lab-b → lab-a | Source only | 42.0 ± 2.8 | 42.0 ± 5.7 | -2.0, +2.0 | 50.0 ± 0.0 | "
        "50.0 ± 0.0 | 1.5x, 40.0x |"
    )
    assert rows["D2CA"].split(" | ")[4] == "+3.0, -1.0"
    assert "Across the 6 runs scored" in text and "a run moved by 2.0 points" in text
    assert "(each trained run once): Source only 1 of 2; D2CA 0 of 2; Target only 0 of 2." in text
    # gap 60 - 42 = 18 both ways; D2CA closes 1/18 in the grid, 2/18 again
    assert "lab-b → lab-a: grid gap 18.0, D2CA closes 6%, again gap 18.0, D2CA closes 11%." in text
    # Source only seed 1 scored on a second target: one more run scored, the same run trained
    other = {"target": "lab-c"}
    grid[("lab-b", "lab-c")] = {"source-only": [result("source-only", 1, 0.34, "aaa") | other]}
    run = result("source-only", 1, 0.30, "ccc", subjects=4, au_loss_rise=40.0) | other
    run_table.write_json(folder / "lab-b_to_lab-c__source-only__seed1.json", run)
    text = report_rerun.rerun_section(folder, grid)
    assert "Across the 7 runs scored" in text and "Source only 1 of 2; D2CA" in text
    assert "| lab-b → lab-c | Source only | 34.0 ± 0.0 | 30.0 ± 0.0 | -4.0 |" in text
    for change in ({"code": "aaa"}, {"steps": 500}, {"subjects": 8}, {"seed": 5}):
        other = tmp_path / f"other-{next(iter(change))}"
        run_table.write_json(other / "a.json", result("source-only", 0, 0.4, "ccc") | change)
        assert not report_rerun.is_rerun_folder(other, grid), change


def test_table_viii_order_reads_the_seed_means():
    """report_data.table_viii_order: full D2CA above w/o FCL above w/o ICL+FCL is "yes"."""
    from report_data import table_viii_order

    def runs(*means):
        return {m: [{"avg_f1": x}] for m, x in zip(scales.D2CA_VARIANTS, means, strict=True)}

    assert table_viii_order(runs(0.3, 0.4, 0.5)) == "yes"
    assert table_viii_order(runs(0.3, 0.5, 0.4)) == "no"
    assert table_viii_order(runs(0.4, 0.4, 0.4)) == "tie"
    assert table_viii_order({"d2ca": [{"avg_f1": 0.5}]}) is None


def test_report_beta1_sets_a_method_beside_itself(tmp_path, capsys):
    """report_beta1.py --method: one method's runs with another beta1 beside the same runs
    with 0.5, source F1 at the quarters of a 2000-step run, target F1 at its end, the rises
    from the JSONs; a folder without the method's runs is a one-line error."""
    import report_beta1

    def result(beta1, seed, f1, rise):
        curve = [[s, f1 + s / 1e5] for s in range(500, 2001, 500)]
        return {"source": "wild", "target": "lab-a", "method": "dann", "seed": seed,
                "steps": 2000, "subjects": 4, "betas": [beta1, 0.999], "avg_f1": f1,
                "source_curve": curve, "target_curve": curve, "au_loss_rise": rise}  # fmt: skip

    for beta1, folder, rises in ((0.5, "base", (30.0, 20.0)), (0.9, "other", (1.5, 1.2))):
        for seed, rise in enumerate(rises):
            run = result(beta1, seed, 0.1 + 0.01 * seed + (beta1 == 0.9) * 0.02, rise)
            run_table.write_json(tmp_path / folder / f"wild_to_lab-a__dann__seed{seed}.json", run)
    argv = ["--base", str(tmp_path / "base"), "--other", str(tmp_path / "other"),
            "--runs", str(tmp_path / "none")]  # fmt: skip
    report_beta1.main([*argv, "--method", "dann"])
    out = capsys.readouterr().out
    assert "| source, step 500 | source, step 1000 | source, step 1500 | source, step 2000 |" in out
    assert "| wild → lab-a | 0.5 | 2 | 11.0 ± 0.7 | 11.5 ± 0.7 |" in out
    assert "| 12.5 ± 0.7 | 30.0x, 20.0x |" in out and "| 14.5 ± 0.7 | 1.5x, 1.2x |" in out
    assert "with beta1 0.9 at or above 0.5's: 2 of 2 pair-seeds." in out
    with pytest.raises(SystemExit, match="no d2ca runs in"):
        report_beta1.main(argv)


def test_report_forks_sets_a_finished_fork_beside_its_run(tmp_path, capsys, monkeypatch):
    """report_forks.py reads a fork's curves from its log, on the AUs its run scored, averages
    its last evaluations (1500 to 2000), and leaves out a fork that has not reached the last
    step."""
    import report_forks

    def curve(f1):
        return [[s, f1] for s in report_forks.STEPS]

    base = {"source": "a", "target": "b", "seed": 0, "aus": ["AU01", "AU02"]}
    run_table.write_json(tmp_path / "eq" / "a_to_b__d2ca__seed0.json",
                         base | {"method": "d2ca", "target_curve": curve(0.4),
                                 "source_curve": curve(0.45)})  # fmt: skip
    run_table.write_json(tmp_path / "grid" / "a_to_b__source-only__seed0.json",
                         base | {"method": "source-only", "target_curve": curve(0.3),
                                 "source_curve": curve(0.5)})  # fmt: skip
    fork = tmp_path / "fork-a_to_b-seed0"
    lines = [
        {
            "kind": "eval",
            "step": s,
            "target_test": {"f1": {"AU01": 0.2 if s < 2000 else 0.4, "AU02": 0.4}},
            "source_val": {"f1": {"AU01": 0.6, "AU02": 0.6}},
        }
        for s in report_forks.STEPS
    ]
    fork.mkdir()
    (fork / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[:-1]))
    argv = ["report_forks.py", "--label", "forked", "--forks",
            str(tmp_path / "fork-{pair}-seed{seed}"), "--equal", str(tmp_path / "eq"),
            "--grid", str(tmp_path / "grid")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    report_forks.main()
    assert "| a → b | D2CA forked |" not in capsys.readouterr().out  # not finished: no row
    (fork / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    report_forks.main()
    rows = capsys.readouterr().out.splitlines()
    assert rows[2:] == [
        "| a → b | D2CA | 1 | 40.0 ± 0.0 | 40.0 ± 0.0 | 40.0 ± 0.0 | 40.0 ± 0.0 | 45.0 ± 0.0 |",
        "| a → b | D2CA forked | 1 | 30.0 ± 0.0 | 30.0 ± 0.0 | 40.0 ± 0.0 | 35.0 ± 0.0 "
        "| 60.0 ± 0.0 |",
        "| a → b | Source only | 1 | 30.0 ± 0.0 | 30.0 ± 0.0 | 30.0 ± 0.0 | 30.0 ± 0.0 "
        "| 50.0 ± 0.0 |",
    ]
    control = tmp_path / "control-a_to_b-seed0"  # the same run trained on unchanged
    control.mkdir()
    lines = [x | {"source_val": {"f1": {"AU01": 0.7, "AU02": 0.7}}} for x in lines]
    (control / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    monkeypatch.setattr(
        sys, "argv", [*argv, "--control", str(tmp_path / "control-{pair}-seed{seed}")]
    )
    report_forks.main()
    rows = capsys.readouterr().out.splitlines()
    assert rows[2] == (
        "| a → b | D2CA | 1 | 30.0 ± 0.0 | 30.0 ± 0.0 | 40.0 ± 0.0 | 35.0 ± 0.0 | 70.0 ± 0.0 |"
    )
    # --grads: L_au^t's pull on E_au over L_au^s's in the control, after step 1000 only
    pulls = ((501, 100.0), (1001, 1.0), (1501, 2.0))  # (step, E_au's gradient from L_au^t)
    diagnostics = [
        {"kind": "diagnostics", "step": step, "grad_norm": {"e_au": {"au_s": 2.0, "au_t": au_t}}}
        for step, au_t in pulls
    ]
    with (control / "metrics.jsonl").open("a") as log:
        log.write("".join(json.dumps(x) + "\n" for x in diagnostics))
    monkeypatch.setattr(sys, "argv", [*sys.argv, "--grads"])
    report_forks.main()
    assert capsys.readouterr().out.splitlines()[-1].endswith("seed by seed: a → b: 0.75")


def test_the_reading_builds_its_fork_tables_from_the_logs(tmp_path):
    """The page's fork tables come from the fork logs of the results folder, and a folder
    without them says so instead of printing an empty table."""
    import report
    from report_prose import FORK_TABLES

    empty = report.discussion(tmp_path, {})
    assert empty.count("(no finished `") == len(FORK_TABLES)
    assert not any(marker in empty for marker in FORK_TABLES)
    folder = ROOT / "docs" / "benchmark-synthetic"
    docs = report.discussion(folder, report.load_results(folder)[0])
    assert "no finished" not in docs and "| wild → lab-a | D2CA w/o L_au^t | 3 |" in docs
