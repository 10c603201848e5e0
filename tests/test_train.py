"""The trainer on tiny learnable data: routing, learning, resume, NaN guard, baselines, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from typer.testing import CliRunner

from d2ca import losses
from d2ca.cli import app
from d2ca.data.manifest import write_manifest
from d2ca.errors import InputError
from d2ca.hub import load_folder
from d2ca.io import OutputExistsError
from d2ca.models import D2CAModel
from d2ca.train import TrainConfig, Trainer, TrainingDivergedError, model_card
from d2ca.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from d2ca.train.optim import ClippedAdam

AUS = ("AU01", "AU02", "AU04", "AU06", "AU12")
TINY = {  # a 32x32 D2CA small enough for CPU tests
    "image_size": 32,
    "enc_widths": [4, 4, 8, 8, 8, 8, 16, 16],
    "dec_widths": [16, 16, 8, 8, 4, 4],
    "disc_widths": [4, 8, 16],
    "proj_hidden": 16,
    "proj_dim": 8,
    "dec_aux_channels": 2,
}


def make_domain(
    root: Path,
    *,
    seed: int,
    tint: int,
    subjects: int = 6,
    per_subject: int = 8,
    labelled: bool = True,
) -> Path:
    """Faces of 32x32: a subject colour, noise, and one bright bar per active AU.

    The last subject is the ``test`` split, the one before ``val``, the others ``train``.
    """
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(subjects):
        base = rng.integers(40, 120, 3) + tint
        for j in range(per_subject):
            img = rng.normal(0, 8, (32, 32, 3)) + base
            labels = rng.integers(0, 2, len(AUS))
            for k, on in enumerate(labels):
                if on:
                    img[6 * k + 1 : 6 * k + 5, 8:24] = 235
            name = f"s{s}_{j}.png"
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / name)
            split = "test" if s == subjects - 1 else "val" if s == subjects - 2 else "train"
            values = labels if labelled else -np.ones_like(labels)
            rows.append(
                {
                    "path": name,
                    "subject": f"s{s}",
                    "split": split,
                    **dict(zip(AUS, values.tolist(), strict=True)),
                }
            )
    write_manifest(root / "manifest.csv", rows)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("data")
    return make_domain(root / "src", seed=0, tint=0), make_domain(root / "tgt", seed=1, tint=50)


def config(data, out: Path, **kw) -> TrainConfig:
    values = dict(
        source=str(data[0]),
        target=str(data[1]),
        steps=4,
        batch_size=8,
        subjects=4,
        model=TINY,
        out_dir=str(out),
        progress=False,
        threads=1,
        device="cpu",  # the CPU's figures (bit-identical resume); GPU runs: test_cuda.py
    )
    return TrainConfig(**{**values, **kw})


def params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


def test_gradient_routing(data, tmp_path):
    trainer = Trainer(config(data, tmp_path / "run"))
    model = trainer.model
    disc = {k for k, _ in model.named_parameters() if k.startswith(("disc_s.", "disc_t."))}
    batch = next(trainer._batches())

    before = params(model)
    terms, swaps = trainer.generator_update(batch)
    moved = changed(before, model)
    assert not moved & disc, "the encoder/decoder update changed a discriminator weight"
    assert moved == set(before) - disc, f"not updated: {sorted(set(before) - disc - moved)}"
    assert all(p.grad is None for p in model.discriminator_parameters())

    before = params(model)
    d_terms = trainer.discriminator_update(batch, swaps)
    assert changed(before, model) == disc
    assert {"disc_s", "disc_t", "disc"} <= set(d_terms) and "rec" in terms

    # the AU loss alone reaches exactly E_au and C, every parameter of both
    model.zero_grad(set_to_none=True)
    x_s, z_s = batch[0], batch[1]
    losses.au_loss(model(x_s), z_s).backward()
    with_grad = {
        k for k, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0
    }
    expected = {k for k, _ in model.named_parameters() if k.startswith(("e_au.", "classifier."))}
    assert with_grad == expected


def test_training_reduces_au_and_reconstruction_loss(data, tmp_path):
    out = tmp_path / "run"
    folder = Trainer(config(data, out, steps=80, log_every=10, eval_every=80)).train()
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r["loss"] for r in logs if r["kind"] == "train"]
    assert len(train) == 8
    for term in ("au_s", "rec"):
        assert train[-1][term] < 0.85 * train[0][term], (term, train[0][term], train[-1][term])
    evals = [r for r in logs if r["kind"] == "eval"]
    assert evals[-1]["step"] == 80 and set(evals[-1]["target_test"]["f1"]) == set(AUS)
    assert "source_val" in evals[-1]
    model = load_folder(folder)
    prov = model.config.provenance
    assert prov["steps"] == 80 and prov["method"] == "d2ca" and prov["aus"] == list(AUS)
    assert prov["metrics"]["target_test"] == evals[-1]["target_test"]
    card = (folder / "README.md").read_text()
    assert str(data[0]) in card and "Limitations" in card and "| AU01 |" in card


RUN = """
import sys
from d2ca.train import TrainConfig, Trainer
cfg = TrainConfig.from_dict({cfg!r})
Trainer(cfg, resume=len(sys.argv) > 1).train()
"""


def run_script(cfg: TrainConfig, *args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    code = RUN.format(cfg=cfg.to_dict())
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after_checkpoint(
    victim: subprocess.Popen, ckpts: Path, step: int, timeout: float = 180
) -> None:
    """SIGKILL ``victim`` as soon as a complete checkpoint of ``step`` or later is in ``ckpts``."""
    deadline = time.time() + timeout
    while time.time() < deadline and victim.poll() is None:
        last = latest_checkpoint(ckpts)
        if last is not None and int(last.name.split("-")[1]) >= step:
            break
        time.sleep(0.02)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()


def test_kill_and_resume_is_bit_exact(data, tmp_path):
    kw = dict(steps=20, checkpoint_every=3, eval_every=6, log_every=2)
    killed = config(data, tmp_path / "killed", **kw)
    ckpts = tmp_path / "killed" / "checkpoints"
    kill_after_checkpoint(run_script(killed), ckpts, 3)
    # only complete checkpoints are visible after a SIGKILL
    last = latest_checkpoint(ckpts)
    step = int(last.name.split("-")[1])
    assert 3 <= step < 20 and not (tmp_path / "killed" / "model").exists()
    for p in ckpts.iterdir():
        if p.name.startswith("step-"):
            assert {f.name for f in p.iterdir()} >= {"model.safetensors", "state.json"}
    resumed = run_script(killed, "--resume")
    Trainer(config(data, tmp_path / "full", **kw)).train()  # the uninterrupted reference
    assert resumed.wait(timeout=180) == 0, resumed.stderr.read()
    a = load_file(str(tmp_path / "full" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ"
    # the metrics log holds each step once, as if never interrupted
    steps = [
        json.loads(x)["step"]
        for x in (tmp_path / "killed" / "metrics.jsonl").open()
        if json.loads(x)["kind"] == "train"
    ]
    assert steps == list(range(2, 21, 2))


def test_update_clip_trains_with_clipped_adam_and_resumes_exactly(data, tmp_path):
    """update_clip: every optimiser is ClippedAdam; a run stopped and resumed ends with the
    weights of one trained straight through, and not with plain Adam's (the clipping acts)."""
    kw = dict(steps=6, checkpoint_every=3, update_clip=True)
    straight = Trainer(config(data, tmp_path / "straight", **kw))
    assert set(straight.optimizers) == {"generator", "discriminator"}
    assert all(type(o) is ClippedAdam for o in straight.optimizers.values())
    folder = straight.train()
    weights = load_file(str(folder / "model.safetensors"))
    assert "(`--update-clip`; not in the paper" in (folder / "README.md").read_text()
    cfg = config(data, tmp_path / "resumed", **kw)
    assert Trainer(cfg).train(until=3) is None
    again = load_file(str(Trainer(cfg, resume=True).train() / "model.safetensors"))
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    plain = Trainer(config(data, tmp_path / "plain", **{**kw, "update_clip": False})).train()
    adam = load_file(str(plain / "model.safetensors"))
    assert "--update-clip" not in (plain / "README.md").read_text()
    assert any(not torch.equal(weights[k], adam[k]) for k in weights)


def test_select_source_val_writes_the_best_evaluations_weights(data, tmp_path):
    """--select source-val: OUT/model holds the weights of the evaluation with the best
    average source-validation F1 (the first of equals), the same after a resume, and equal
    to a run that stopped at that step; its provenance and card name the step."""
    kw = dict(steps=10, eval_every=2, checkpoint_every=4, log_every=2, select="source-val")
    full = Trainer(config(data, tmp_path / "full", **kw)).train()
    evals = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").open()]
    f1 = {e["step"]: e["source_val"]["avg_f1"] for e in evals if e["kind"] == "eval"}
    assert sorted(f1) == list(range(2, 11, 2))
    best = max(f1, key=lambda k: (f1[k], -k))
    # on these data and seeds (CPU, deterministic) source F1 falls at step 10 (28.1 -> 23.8)
    assert best < 10, f"the last step is the best here: the test no longer selects ({f1})"
    prov = load_folder(full).config.provenance
    assert prov["selected_step"] == best and prov["steps"] == 10
    assert prov["metrics"]["source_val"]["avg_f1"] == f1[best] != f1[10]
    assert f"Weights: those of step {best}" in (full / "README.md").read_text()
    weights = load_file(str(full / "model.safetensors"))

    stopped = Trainer(config(data, tmp_path / "stopped", **{**kw, "steps": best})).train()
    assert load_folder(stopped).config.provenance["selected_step"] == best
    at_best = load_file(str(stopped / "model.safetensors"))
    assert all(torch.equal(weights[k], at_best[k]) for k in weights)

    cfg = config(data, tmp_path / "resumed", **kw)
    assert Trainer(cfg).train(until=6) is None
    resumed = Trainer(cfg, resume=True).train()
    again = load_file(str(resumed / "model.safetensors"))
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    last = Trainer(config(data, tmp_path / "last", **{**kw, "select": "last"})).train()
    assert load_folder(last).config.provenance["selected_step"] == 10
    with pytest.raises(InputError, match="select"):
        config(data, tmp_path / "bad", select="best")


def test_checkpoint_is_atomic_and_round_trips(tmp_path):
    model = D2CAModel(TrainConfig(source="a", target="b", steps=1, model=TINY).model_config(AUS))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()
    root = tmp_path / "ckpt"
    with pytest.raises(TypeError):  # fails while writing state.json: nothing must remain
        save_checkpoint(root, 5, {"model": model}, {"g": opt}, {"bad": object()})
    assert list(root.iterdir()) == []
    save_checkpoint(root, 5, {"model": model}, {"g": opt}, {"eval": {"avg_f1": 0.5}})
    save_checkpoint(root, 10, {"model": model}, {"g": opt})
    assert [p.name for p in root.iterdir()] == ["step-00000010"]  # older ones removed
    state = opt.state_dict()
    fresh = D2CAModel(model.config)
    opt2 = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    step, extra = load_checkpoint(root / "step-00000010", {"model": fresh}, {"g": opt2})
    assert step == 10 and extra == {}
    for k, v in model.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k]), k
    s2 = opt2.state_dict()
    for i, st in state["state"].items():
        for k, v in st.items():
            assert torch.equal(v, s2["state"][i][k]), (i, k)
    assert s2["param_groups"] == state["param_groups"]


def test_nan_guard_names_the_term_and_keeps_the_checkpoint(data, tmp_path):
    trainer = Trainer(config(data, tmp_path / "run", steps=8, checkpoint_every=2))
    assert trainer.train(until=4) is None
    with torch.no_grad():  # a fault: the ICL projection head (used by L_icl only) becomes NaN
        trainer.model.proj.net[2].bias.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match=r"loss term 'icl' is not finite at step 5"):
        trainer.train()
    last = latest_checkpoint(tmp_path / "run" / "checkpoints")
    assert last.name == "step-00000004"
    weights = load_file(str(last / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert not (tmp_path / "run" / "model").exists()


@pytest.mark.parametrize("method", ["source-only", "dann", "target-only"])
def test_baselines_produce_loadable_checkpoints(data, tmp_path, method):
    folder = Trainer(config(data, tmp_path / method, method=method, steps=3)).train()
    model = load_folder(folder)
    torch.manual_seed(0)
    init = D2CAModel(model.config)  # the same seed: the untrained networks are still at init
    for name in ("decoder", "disc_s", "e_dm_t", "proj"):
        a, b = getattr(model, name).state_dict(), getattr(init, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert not torch.equal(
        model.e_au.state_dict()["layers.0.0.weight"], init.e_au.state_dict()["layers.0.0.weight"]
    )
    assert model.config.provenance["method"] == method


def test_target_only_needs_target_labels(data, tmp_path):
    unlabelled = make_domain(tmp_path / "unl", seed=3, tint=20, subjects=3, labelled=False)
    with pytest.raises(InputError, match="target labels"):
        Trainer(config((data[0], unlabelled), tmp_path / "run", method="target-only"))
    assert not (tmp_path / "run").exists()  # nothing is written before the data proved usable


def test_train_config_round_trip_and_resume_guard(data, tmp_path):
    cfg = config(data, tmp_path / "run", method="d2ca-no-fcl", model={**TINY, "gamma2": 2.0})
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    mc = cfg.model_config(AUS)
    assert not mc.use_fcl and mc.use_icl and mc.gamma2 == 2.0 and mc.au_names == AUS
    with pytest.raises(InputError, match="multiple of subjects"):
        config(data, tmp_path, batch_size=10, subjects=4)
    with pytest.raises(InputError, match="exactly one of steps or epochs"):
        config(data, tmp_path, epochs=2)
    with pytest.raises(InputError, match="au_t_rampup"):
        config(data, tmp_path, au_t_rampup=-1)
    trainer = Trainer(cfg)  # 4 subjects x 8 train images, batch 8: 4 steps an epoch
    assert (trainer.steps_per_epoch, trainer.total_steps, trainer.eval_every) == (4, 4, 4)
    by_epochs = dataclasses.replace(cfg, steps=None, epochs=3, out_dir=str(tmp_path / "ep"))
    assert Trainer(by_epochs).total_steps == 12
    tuples = dataclasses.replace(
        cfg, model={**TINY, "gamma2": 2.0, "enc_widths": (4, 4, 8, 8, 8, 8, 16, 16)}
    )
    assert tuples.changes(TrainConfig.load(tmp_path / "run")) == []  # JSON-equal: resumable
    with pytest.raises(OutputExistsError, match="--resume"):
        Trainer(cfg)
    with pytest.raises(InputError, match="different lr"):
        Trainer(dataclasses.replace(cfg, lr=0.1), resume=True)
    with pytest.raises(InputError, match="different au_t_rampup"):
        Trainer(dataclasses.replace(cfg, au_t_rampup=5), resume=True)


def test_model_card_states_data_and_metrics(data):
    cfg = config(data, Path("x"), method="dann")
    metrics = {"target_test": {"f1": dict.fromkeys(AUS, 0.5), "avg_f1": 0.5, "n": 8}}
    card = model_card(cfg.model_config(AUS), cfg, metrics)
    assert "DANN" in card and str(data[1]) in card and "| 50.0 |" in card
    assert "Intended use" in card and "Limitations" in card


def test_cli_end_to_end(data, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    args = [
        "train",
        "--source",
        str(data[0]),
        "--target",
        str(data[1]),
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--subjects",
        "4",
        "--image-size",
        "32",
        "--out",
        str(out),
        "--no-progress",
        "--threads",
        "1",
        "--method",
        "d2ca-no-icl-fcl",
        "--device",
        "cpu",  # the CPU's answer to --bf16 (a warning); on a GPU: test_cuda.py
    ]
    args += [
        x for k, v in TINY.items() if k != "image_size" for x in ("--set", f"{k}={json.dumps(v)}")
    ]
    options = ["--bf16", "--au-t-rampup", "7", "--beta1", "0.9", "--select", "source-val"]
    options += ["--update-clip"]
    result = runner.invoke(app, [*args, *options])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "model")
    assert "--bf16 needs CUDA; ignored" in result.stderr
    model = load_folder(out / "model")
    assert model.config.au_names == AUS and not model.config.use_icl
    saved = TrainConfig.load(out)
    assert saved.steps == 3 and saved.method == "d2ca-no-icl-fcl" and saved.au_t_rampup == 7
    assert saved.betas == (0.9, 0.999) and saved.select == "source-val" and saved.update_clip

    again = runner.invoke(app, [*args, "--au-t-rampup", "7"])
    assert again.exit_code == 1 and "--resume" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    # extend the finished run by two steps
    more = runner.invoke(
        app, ["train", "--out", str(out), "--resume", "--steps", "5", "--no-progress"]
    )
    assert more.exit_code == 0, more.output
    assert load_folder(out / "model").config.provenance["steps"] == 5
    bad = runner.invoke(app, [*args[:-2], "--method", "nope", "--overwrite"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: unknown method 'nope'")
    bad = runner.invoke(app, ["train", "--source", str(data[0]), "--steps", "1"])
    assert bad.exit_code == 1 and "--target" in bad.stderr


def test_cached_and_dataloader_batches_agree(data):
    from d2ca.data.manifest import read_manifest
    from d2ca.train.data import SplitData
    from d2ca.train.sampler import SubjectBatchSampler

    cfg = TrainConfig(source="a", target="b", steps=1, model=TINY).model_config(AUS)
    manifest = read_manifest(data[0]).split("train")
    kw = {"device": torch.device("cpu"), "memory_format": torch.channels_last}
    cached = SplitData(manifest, cfg, cache=True, **kw)
    loaded = SplitData(manifest, cfg, cache=False, num_workers=1, **kw)
    sampler = SubjectBatchSampler(cached.subject_ids.numpy(), 2, 2, seed=4)
    batches = zip(cached.batches(sampler, 7), loaded.batches(sampler, 7), strict=True)
    for step, (a, b) in zip(range(7, 10), batches, strict=False):  # endless: first 3
        for u, v in zip(a, b, strict=True):
            assert torch.equal(u, v)
        rows = torch.from_numpy(sampler.batch(step))
        assert torch.equal(a[1], cached.labels[rows]) and torch.equal(
            a[2], cached.subject_ids[rows]
        )
        assert a[0].is_contiguous(memory_format=torch.channels_last)
        assert a[0].min() >= -1 and a[0].max() <= 1


def test_gradient_reversal_and_its_schedule():
    from d2ca.train.baselines import grad_reverse, grl_coefficient

    x = torch.randn(3, requires_grad=True)
    y = grad_reverse(x, 0.3)
    assert torch.equal(y, x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), -0.3))
    values = [grl_coefficient(p / 10) for p in range(11)]
    assert values[0] == 0 and values == sorted(values) and 0.999 < values[-1] < 1


def test_warmup_trains_only_the_au_path_then_the_full_objective(data, tmp_path):
    out = tmp_path / "run"
    trainer = Trainer(config(data, out, steps=5, warmup_steps=3, log_every=2, eval_every=5))
    model = trainer.model
    au_path = {k for k, _ in model.named_parameters() if k.startswith(("e_au.", "classifier."))}
    before = params(model)
    trainer.train(until=3)
    assert changed(before, model) == au_path  # warm-up: Eq. 4 on source faces alone
    trainer.train()
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [(r["step"], set(r["loss"])) for r in logs if r["kind"] == "train"]
    # log windows close at every 2nd step and where the warm-up ends (its terms differ)
    assert [step for step, _ in train] == [2, 3, 4, 5]
    assert train[0][1] == train[1][1] == {"au", "total"}
    assert all({"au_s", "rec", "icl", "disc"} <= names for _, names in train[2:])


def test_model_card_names_warmup_and_synthetic_training(tmp_path):
    from d2ca.config import D2CAConfig

    tc = TrainConfig(source="synthau:a", target="synthau:b", steps=5, warmup_steps=2)
    card = model_card(D2CAConfig(), tc, {})
    assert "first 2 steps trained the AU path alone" in card
    assert "not meaningful until it is retrained on real data" in card
    plain = model_card(D2CAConfig(), TrainConfig(source="bp4d:a", target="disfa:b", steps=5), {})
    assert "Warm-up" not in plain and "SynthAU" not in plain
    assert "aux_grad_e_au=0 (the paper: 1)" in plain and "over 1000 steps" in plain
    paper = D2CAConfig(aux_grad_e_au=1.0, norm_stats="all")
    tc_paper = TrainConfig(source="bp4d:a", target="disfa:b", steps=5, au_t_rampup=0)
    assert "the paper's routing and weights" in model_card(paper, tc_paper, {})
    assert "Decoder" not in plain
    assert "re-injects the AU features" in model_card(D2CAConfig(dec_aux_au=True), tc, {})
    baseline = TrainConfig(source="bp4d:a", target="disfa:b", steps=5, method="source-only")
    assert "Objective" not in model_card(D2CAConfig(), baseline, {})


def test_diagnostics_lines_name_every_term_and_spread(data, tmp_path):
    out = tmp_path / "run"
    Trainer(config(data, out, steps=4, log_every=2, diagnose_every=2, eval_every=4)).train()
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    diag = [r for r in logs if r["kind"] == "diagnostics"]
    assert [r["step"] for r in diag] == [1, 3]  # measured on the updates of steps 1 and 3
    terms = {"au_s", "au_t", "rep", "rec", "adv", "ort", "icl", "fcl"}
    for r in diag:
        g = r["grad_norm"]
        assert set(g) == {"e_au", "e_dm", "g"}
        assert set(g["e_au"]) == set(g["e_dm"]) == set(g["g"]) == terms
        assert g["e_au"]["au_s"] > 0 and g["e_au"]["fcl"] == 0
        assert g["e_dm"]["au_s"] == 0 and g["e_dm"]["fcl"] > 0
        # G: trained by what its faces feed (Eq. 4's L_au^t, 7, 8, 10), not by L_au^s or FCL
        assert g["g"]["au_s"] == g["g"]["fcl"] == g["g"]["ort"] == 0
        assert all(g["g"][k] > 0 for k in ("au_t", "rep", "rec", "adv", "icl"))
        assert set(r["spread"]) == {"a_s", "a_t", "d_s", "d_t", "p_s"}
        assert all(v > 0 for v in r["spread"].values())
    # the measurement does not change training: same weights as a run without it
    plain = Trainer(config(data, tmp_path / "plain", steps=4, diagnose_every=0, eval_every=4))
    plain.train()
    logs = (tmp_path / "plain" / "metrics.jsonl").read_text()
    assert '"diagnostics"' not in logs
    diagnosed = load_folder(out / "model").state_dict()
    for k, v in plain.model.state_dict().items():
        assert torch.equal(v, diagnosed[k]), k


def test_diagnostics_of_a_baseline(data, tmp_path):
    out = tmp_path / "run"
    cfg = config(data, out, method="source-only", steps=2, diagnose_every=1, eval_every=2)
    Trainer(cfg).train()
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    diag = [r for r in logs if r["kind"] == "diagnostics"]
    assert len(diag) == 2 and set(diag[0]["grad_norm"]["e_au"]) == {"au"}
    assert set(diag[0]["spread"]) == {"a_s", "p_s"}


def test_term_gradient_norms_match_a_direct_backward():
    from d2ca.train.diagnostics import term_gradient_norms

    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(2, 1)
    x = torch.randn(5, 3)
    h = a(x)
    terms = {"one": b(h).pow(2).mean(), "two": h.abs().mean()}
    norms = term_gradient_norms(terms, {"a": [a], "b": [b]})
    for name, term in terms.items():
        a.zero_grad(), b.zero_grad()
        term.backward(retain_graph=True)
        for group, mod in (("a", a), ("b", b)):
            direct = torch.cat([p.grad.flatten() for p in mod.parameters() if p.grad is not None]
                               or [torch.zeros(1)]).norm()  # fmt: skip
            assert norms[group][name] == pytest.approx(float(direct), rel=1e-4)
    assert norms["b"]["two"] == 0.0


def test_plot_run_cli(data, tmp_path):
    out = tmp_path / "run"
    Trainer(config(data, out, steps=4, log_every=2, diagnose_every=2, eval_every=2)).train()
    png = tmp_path / "curves.png"
    result = CliRunner().invoke(app, ["plot", "run", str(out), "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert Image.open(png).size[0] > 500
    again = CliRunner().invoke(app, ["plot", "run", str(out), "-o", str(png)])
    assert again.exit_code == 1 and "exists" in again.output
    missing = CliRunner().invoke(app, ["plot", "run", str(tmp_path), "-o", str(png)])
    assert missing.exit_code == 1 and "metrics.jsonl" in missing.output


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny SynthAU pair (8 subjects x 8 frames, 32x32): lab-b source, lab-a target."""
    from d2ca.data.synth import render_dataset

    root = tmp_path_factory.mktemp("synthau")
    return tuple(
        render_dataset(root / p, p, subjects=8, frames_per_subject=8, size=32, seed=s)
        for p, s in (("lab-b", 1), ("lab-a", 2))
    )


def _au_path_after(rendered, out: Path, rampup=None, **model) -> tuple[list, list]:
    kw = {} if rampup is None else {"au_t_rampup": rampup}
    cfg = config(rendered, out, steps=60, log_every=10, diagnose_every=20, eval_every=1000,
                 model={**TINY, **model}, **kw)  # fmt: skip
    Trainer(cfg).train()
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    au = [r["loss"]["au_s"] for r in logs if r["kind"] == "train"]
    spread = [r["spread"]["a_s"] for r in logs if r["kind"] == "diagnostics"]
    return au, spread


def test_d2ca_au_encoder_learns_from_a_random_start(rendered, tmp_path):
    """The regression test of issue 8: under the default objective the source AU loss falls
    and E_au's features keep their variation across faces; under the paper's routing
    (every term trains E_au, aux_grad_e_au=1; L_au^t at full weight from the start, batch
    norm statistics from every face) the features collapse within 60 steps."""
    au, spread = _au_path_after(rendered, tmp_path / "default")
    assert au[-1] < 0.92 * au[0], au
    assert spread[-1] > 0.8 * spread[0], spread
    paper_values = {"aux_grad_e_au": 1.0, "norm_stats": "all"}
    _, paper = _au_path_after(rendered, tmp_path / "paper", rampup=0, **paper_values)
    assert paper[-1] < 0.7 * paper[0] and paper[-1] < spread[-1], (paper, spread)
