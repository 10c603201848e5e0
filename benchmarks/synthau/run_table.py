"""Reproduce the paper's tables on SynthAU, run by run and resumable.

Each training run stores one JSON in the scale's results folder (``docs/benchmark-synthetic/``
on the CPU, ``docs/benchmark-synthetic-paper/`` at the paper's scale) as soon as it finishes;
a run whose JSON exists is skipped, so the document regenerates without retraining::

    python benchmarks/synthau/run_table.py                  # train what is missing, write docs
    python benchmarks/synthau/run_table.py --render-only    # rebuild the markdown from the JSONs
    python benchmarks/synthau/run_table.py --pairs lab-a:wild --methods d2ca --seeds 0  # one run
    python benchmarks/synthau/run_table.py --scale paper --workers 3 --budget-s 420  # one GPU
    python benchmarks/synthau/run_table.py --methods d2ca --steps 2000 --extend  # continue runs

``--scale`` (:mod:`scales`) sets the data, network, batch, budget and cadences. Rendered data,
run folders and oracles live in ``--work`` (outside the repository). A run cut short (killed,
interrupted, or stopped by ``--budget-s``) resumes from its last checkpoint when ``--work``
still holds it; ``pack.py`` carries JSONs and checkpoints from one machine to the next.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from budget import OutOfTime, extend_shorter, fits, steps_per_epoch, train  # noqa: E402
from oracles import (  # noqa: E402
    IdentityOracle,
    au_f1,
    gallery_probe_split,
    identity_top1,
    load_images,
    swap_ts,
    train_identity_oracle,
)
from report import D2CA_VARIANTS, METHODS, render_document  # noqa: E402
from report_data import f1_curve  # noqa: E402
from report_paper import render_paper_document  # noqa: E402
from scales import DATA_SEEDS, REPO, SCALES, SEEDS, Scale  # noqa: E402

from d2ca.aus import DATASET_AUS, au_name  # noqa: E402
from d2ca.config import D2CAConfig  # noqa: E402
from d2ca.data.manifest import Manifest, read_manifest  # noqa: E402
from d2ca.devices import resolve_device  # noqa: E402
from d2ca.evaluation import evaluate  # noqa: E402
from d2ca.hub import load_folder  # noqa: E402
from d2ca.io import atomic_path  # noqa: E402
from d2ca.models import to_uint8_images  # noqa: E402
from d2ca.train.config import TrainConfig  # noqa: E402

AUS = tuple(au_name(n) for n in DATASET_AUS["synthau"])
MIN_POSITIVES = 5  # an AU is scored on a pair when both splits hold this many positives


# ---------------------------------------------------------------------------- data
def render_data(scale: Scale, presets: set[str], workers: int = 1) -> dict[str, Path]:
    """Render each preset once into ``WORK/data/PRESET`` (skipped when its manifest exists),
    in ``workers`` processes (the faces do not depend on it)."""
    from d2ca.data.synth import render_dataset

    out = {}
    for preset in sorted(presets):
        folder = scale.work / "data" / preset
        if not (folder / "manifest.csv").is_file():
            t0 = time.time()
            render_dataset(folder, preset, seed=DATA_SEEDS[preset], workers=workers, **scale.data)
            print(f"rendered {preset} in {time.time() - t0:.0f} s", flush=True)
        out[preset] = folder
    return out


def pair_aus(source: Manifest, target: Manifest) -> list[str]:
    """AUs scored on a pair: enough positives in the source train and the target test split."""
    src, tgt = source.split("train"), target.split("test")
    return [
        a
        for a in AUS
        if (src.labels[:, src.au_names.index(a)] == 1).sum() >= MIN_POSITIVES
        and (tgt.labels[:, tgt.au_names.index(a)] == 1).sum() >= MIN_POSITIVES
    ]


# ---------------------------------------------------------------------------- runs
def run_name(source: str, target: str, method: str, seed: int) -> str:
    return f"{source}_to_{target}__{method}__seed{seed}"


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def run_dir(scale: Scale, source: str, target: str, method: str, seed: int) -> Path:
    return scale.work / "runs" / f"{run_name(source, target, method, seed)}__{scale.tag(method)}"


def train_config(scale: Scale, source: Path, target: Path, method: str, seed: int, out: Path,
                 budget: dict[str, int] | None = None) -> TrainConfig:  # fmt: skip
    """The :class:`TrainConfig` of one run (``budget``: instead of the method's).

    Every run is evaluated every ``scale.eval_every`` steps, or every tenth of an epoch
    budget (so that one evaluation falls at 80% of the steps): the report reads Source only's
    plateau and D2CA's source-validation F1 against Source only's (issue 8's bar) from these
    curves.
    """
    budget = budget or scale.budget(method)
    steps = budget.get("steps")
    config = TrainConfig(
        source=str(source), target=str(target), method=method, seed=seed, **budget,
        batch_size=scale.batch, subjects=scale.sampler_subjects, model=scale.model_config(),
        warmup_steps=scale.warmup_steps if method in D2CA_VARIANTS else 0,
        eval_every=min(scale.eval_every, steps or scale.eval_every),
        checkpoint_every=scale.checkpoint_every or steps, log_every=10, out_dir=str(out),
        progress=False, device=scale.device, bf16=scale.bf16, cuda_graphs=scale.cuda_graphs,
        update_clip=scale.update_clip,
    )  # fmt: skip
    if scale.beta1 is not None:
        config = dataclasses.replace(config, betas=(scale.beta1, config.betas[1]))
    if steps:
        return config
    every = max(1, config.epochs // 10) * steps_per_epoch(config)
    return dataclasses.replace(config, eval_every=every)


def au_loss_log(out: Path) -> list[tuple[int, float]]:
    """``(step, loss)`` of each logged source AU loss (``au_s`` for D2CA, ``au`` for the
    baselines; a mean over the steps since the last log line)."""
    values = []
    for line in (out / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row.get("kind") == "train":
            loss = row["loss"]
            values.append((row["step"], float(loss.get("au_s", loss.get("au", float("nan"))))))
    return values


def au_loss_curve(out: Path) -> list[float]:
    """First and last logged source AU loss."""
    values = [v for _, v in au_loss_log(out)]
    return values[:1] + values[-1:]


def au_loss_rise(out: Path, after: int = 100) -> float:
    """Largest ratio of a logged source AU loss after step ``after`` to the lowest logged
    before it: issue 18's spike (``L_au^s`` from 0.002 to 0.34) is a rise of 10x or more; a
    run that only learns stays near 1."""
    rise, low = 0.0, float("inf")
    for step, value in au_loss_log(out):
        if step > after:
            rise = max(rise, value / low)
        low = min(low, value)
    return rise


def one_run(scale: Scale, config: TrainConfig, data: dict[str, Path], source: str,
            target: str, oracles: dict | None, deadline: float | None = None) -> dict:  # fmt: skip
    """Train (or finish) one run of the grid and measure it: the JSON of the run."""
    out, method = Path(config.out_dir), config.method
    wall = None  # None: trained (in part) by an earlier, interrupted invocation
    if not (out / "model" / "config.json").is_file():
        seconds = train(config, deadline, scale.stop_margin_s)
        wall = None if seconds is None else round(seconds, 1)
    device, marker = resolve_device(scale.device), out / "extended_from"
    model = load_folder(out / "model", device=device)
    src, tgt = read_manifest(data[source]), read_manifest(data[target])
    scored = evaluate(model, tgt.split("test"), au_names=list(AUS), device=device)
    aus = pair_aus(src, tgt)
    result = {
        "source": source,
        "target": target,
        "method": method,
        "seed": config.seed,
        "scale": scale.name,
        "steps": model.config.provenance["steps"],
        "epochs": config.epochs,
        "warmup_steps": config.warmup_steps,
        "batch_size": config.batch_size,
        "subjects": config.subjects,
        "betas": list(config.betas),
        "update_clip": config.update_clip,
        "bf16": config.bf16 and device.type == "cuda",
        "cuda_graphs": config.cuda_graphs and device.type == "cuda",
        "wall_time_s": wall,
        "extended_from": marker.read_text().strip() if marker.is_file() else None,
        "f1": scored["f1"],
        "aus": aus,
        "avg_f1": float(np.mean([scored["f1"][a] for a in aus])),
        "n_test": scored["n"],
        "au_loss_first_last": au_loss_curve(out),
        "au_loss_rise": au_loss_rise(out),
        "target_curve": f1_curve(out, "target_test", aus),
        "source_curve": f1_curve(out, "source_val", aus),
        "config": scale.model_config(),
        "data": {**scale.data, "seeds": DATA_SEEDS},
        "code": _commit(),
        "host": host(device),
    }
    if method in D2CA_VARIANTS and oracles is not None:
        result["quality"] = quality(model, src, tgt, aus, oracles)
    return result


def host(device: torch.device) -> str:
    """The machine a run trained on, as the JSONs record it."""
    cpu = f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}"
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, {cpu}, CUDA {torch.version.cuda}"
    return cpu


@functools.cache
def _commit() -> str:
    """The repository commit when this process started (``+dirty``: d2ca/ differed from it);
    where the tree travelled without ``.git`` (a device machine), ``$D2CA_COMMIT``.

    Cached from the first call in :func:`main`: the process imported the code then.
    """
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return os.environ.get("D2CA_COMMIT", "unknown")
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "d2ca"], check=False)
    return head.stdout.strip() + ("+dirty" if dirty.returncode else "")


# ---------------------------------------------------------------------------- oracles
def oracle_for(scale: Scale, data: dict[str, Path], target: str,
               deadline: float | None = None) -> dict:  # fmt: skip
    """The AU oracle (a target-only run of its own seed) and identity oracle of one target
    domain, on the scale's device; trained when missing."""
    from safetensors.torch import load_file, save_file

    folder = scale.work / "oracles" / target
    au_dir, seed = folder / "au", scale.oracle["seed"]
    if not (au_dir / "model" / "config.json").is_file():
        train(oracle_config(scale, data, target), deadline, scale.stop_margin_s)
    device = resolve_device(scale.device)
    au_oracle = load_folder(au_dir / "model", device=device)
    cfg = D2CAConfig(image_size=scale.image_size, **scale.model)
    test = read_manifest(data[target]).split("test")
    gallery, probe = gallery_probe_split(test)
    subjects = sorted(set(test.subjects))
    ids = np.array([subjects.index(s) for s in test.subjects])
    images = load_images(test, cfg)
    weights = folder / "identity.safetensors"
    if weights.is_file():
        id_oracle = IdentityOracle(cfg, len(subjects))
        id_oracle.load_state_dict(load_file(str(weights)))
        id_oracle.to(device).eval()
    else:
        id_oracle = train_identity_oracle(images[gallery], ids[gallery], cfg,
                                          steps=scale.oracle["id_steps"], seed=seed,
                                          device=device)  # fmt: skip
        save_file(id_oracle.state_dict(), str(weights))
    return {
        "au": au_oracle,
        "identity": id_oracle,
        "config": cfg,
        "target_images": images,
        "gallery": gallery,
        "probe": probe,
        "ids": ids,
        "test": test,
        "n_subjects": len(subjects),
        "pairs": scale.oracle["pairs"],
        "seed": seed,
    }


def oracle_config(scale: Scale, data: dict[str, Path], target: str) -> TrainConfig:
    """The AU oracle's run: Target only with the oracles' seed and budget."""
    out = scale.work / "oracles" / target / "au"
    return train_config(scale, data[target], data[target], "target-only", scale.oracle["seed"],
                        out, budget=dict(scale.oracle_budget))  # fmt: skip


def pairing(source_test: Manifest, oracles: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fixed random pairs (AU source face, target probe face), ``oracles['pairs']`` of them."""
    rng = np.random.default_rng(oracles["seed"])
    probe = np.flatnonzero(oracles["probe"])
    n = oracles["pairs"]
    return rng.choice(len(source_test), n), rng.choice(probe, n)


def quality(model, src: Manifest, tgt: Manifest, aus: list[str], oracles: dict) -> dict:
    """AU transfer F1, identity top-1 and Fréchet distance of ``It→s`` for one model."""
    source_test = src.split("test")
    i_s, i_t = pairing(source_test, oracles)
    x_s = load_images(source_test, oracles["config"])[i_s]
    x_t = oracles["target_images"][i_t]
    x_ts = swap_ts(model, x_s, x_t)
    z_s = source_test.with_aus(aus).labels[i_s]
    real = oracles["target_images"][oracles["gallery"]]
    return {
        "au_transfer": au_f1(oracles["au"], x_ts, z_s, aus),
        "identity_top1": identity_top1(oracles["identity"], x_ts, oracles["ids"][i_t]),
        "fid": fid_of(x_ts, real, oracles["config"]),
        "n_pairs": len(i_s),
    }


def fid_of(fake: torch.Tensor, real: torch.Tensor, config: D2CAConfig) -> float:
    """FID* of two sets of normalised faces: :mod:`d2ca.evaluation.fid` with its offline extractor.

    ``RandomConvExtractor`` (fixed-seed random features): Inception weights cannot be
    downloaded here, so the values rank image sets but are not comparable with published FID.
    """
    from d2ca.evaluation.fid import RandomConvExtractor, fid

    extractor = RandomConvExtractor(seed=0)
    return fid(to_uint8_images(fake, config), to_uint8_images(real, config), extractor)


def references(scale: Scale, data: dict[str, Path], source: str, target: str,
               oracles: dict) -> dict:  # fmt: skip
    """What the oracles score on real faces: the bounds the D2CA variants sit between."""
    src, tgt = read_manifest(data[source]), read_manifest(data[target])
    aus = pair_aus(src, tgt)
    source_test = src.split("test")
    i_s, i_t = pairing(source_test, oracles)
    x_s = load_images(source_test, oracles["config"])[i_s]
    x_t = oracles["target_images"][i_t]
    real = oracles["target_images"][oracles["gallery"]]
    return {
        "source": source,
        "target": target,
        "aus": aus,
        "n_pairs": len(i_s),
        "n_subjects": oracles["n_subjects"],
        # the AU oracle on real target faces (its own labels): the ceiling of AU transfer
        "au_oracle_on_target": au_f1(
            oracles["au"], x_t, oracles["test"].with_aus(aus).labels[i_t], aus
        ),
        # the AU oracle on the untranslated source faces: transfer without any synthesis
        "au_oracle_on_source": au_f1(
            oracles["au"], x_s, source_test.with_aus(aus).labels[i_s], aus
        ),
        "identity_top1_real": identity_top1(oracles["identity"], x_t, oracles["ids"][i_t]),
        "identity_chance": 1.0 / oracles["n_subjects"],
        "fid_real_target": fid_of(x_t, real, oracles["config"]),
        "fid_source": fid_of(x_s, real, oracles["config"]),
        "oracle": {f"au_{k}": v for k, v in scale.oracle_budget.items()}
        | {"id_steps": scale.oracle["id_steps"]},
    }  # fmt: skip


# ---------------------------------------------------------------------------- driver
def task_list(pairs: list, methods: list, seeds: list, quality: bool, screen: tuple) -> list:
    """Every unit of work, seed by seed, so that a grid cut short has every cell of its first
    seeds.

    Oracles first (the D2CA runs wait for them); then, for each seed, the baselines (cheap)
    and the D2CA variants (full D2CA first: issue 8's bar reads it); the screening of the
    candidate pairs not in the grid after the first seed.
    """
    out: list[tuple] = []
    if quality and any(m in D2CA_VARIANTS for m in methods):
        out += [("oracle", t, tuple(s for s, tt in pairs if tt == t)) for t in
                sorted({t for _, t in pairs})]  # fmt: skip
    base = [m for m in methods if m not in D2CA_VARIANTS]
    variants = [m for m in methods if m in D2CA_VARIANTS]
    for i, seed in enumerate(seeds):
        out += [("run", s, t, m, seed) for s, t in pairs for m in base]
        out += [("run", s, t, m, seed) for m in variants[::-1] for s, t in pairs]
        if i == 0 and set(base) >= {"source-only", "target-only"}:
            out += [("run", s, t, m, seed) for s, t in screen if (s, t) not in pairs
                    for m in ("source-only", "target-only")]  # fmt: skip
    return out


def plan(scale: Scale, args: argparse.Namespace) -> list[tuple]:
    """The task list of the command line."""
    pairs = [tuple(p.split(":")) for p in args.pairs] if args.pairs else list(scale.pairs)
    seeds = args.seeds if args.seeds is not None else list(SEEDS)
    methods = args.methods or list(METHODS)
    return task_list(pairs, methods, seeds, not args.no_quality, scale.screen)


def presets(tasks: list[tuple]) -> set[str]:
    """The SynthAU domains the tasks train or score on."""
    return {p for task in tasks for p in task[1:3] if isinstance(p, str)}


def claim(folder: Path, name: str) -> bool:
    """Atomically take ``name`` for this worker; False when another worker holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(folder / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def work_through(scale: Scale, args: argparse.Namespace, claims: Path,
                 deadline: float | None) -> None:  # fmt: skip
    """One worker: take each unclaimed task of the list in order and do it.

    With a ``deadline``, a task that is not expected to end before it is left to a later
    invocation, and a run the deadline reaches stops at a checkpoint (:func:`train`).
    """
    tasks = plan(scale, args)
    data = render_data(scale, presets(tasks))
    oracle_cache: dict[str, dict] = {}
    left: list[str] = []  # not started: not expected to end in time
    for task in tasks:
        if task[0] == "oracle":
            _, target, sources = task
            done = scale.work / "oracles" / target / "done"
            if done.is_file():
                continue
            if not fits(scale, oracle_config(scale, data, target), deadline, args.partial):
                left.append(f"oracles of {target}")
            elif claim(claims, f"oracle-{target}"):
                try:
                    oracles = oracle_for(scale, data, target, deadline)
                except OutOfTime as e:
                    print(f"oracles of {target}: {e}; resumes from its checkpoint", flush=True)
                    continue
                for source in sources:
                    ref = scale.results / f"reference__{source}_to_{target}.json"
                    write_json(ref, references(scale, data, source, target, oracles))
                done.write_text("ok\n")
                print(f"oracles of {target} ready", flush=True)
            continue
        _, source, target, method, seed = task
        name = run_name(source, target, method, seed)
        path = scale.results / f"{name}.json"
        if path.is_file():
            continue
        out = run_dir(scale, source, target, method, seed)
        config = train_config(scale, data[source], data[target], method, seed, out)
        if not fits(scale, config, deadline, args.partial):
            left.append(name)
            continue
        if not claim(claims, name):
            continue
        if args.extend and not out.exists():
            print(f"{name}: extended from {extend_shorter(out)}", flush=True)
        oracles = None
        if method in D2CA_VARIANTS and not args.no_quality:
            done = scale.work / "oracles" / target / "done"
            while not done.is_file() and (claims / f"oracle-{target}").is_file():
                if deadline is not None and time.time() > deadline:
                    break
                time.sleep(10)  # another worker is training them
            if not done.is_file():
                left.append(name)  # its oracles were left to a later invocation
                continue
            if target not in oracle_cache:
                oracle_cache[target] = oracle_for(scale, data, target)
            oracles = oracle_cache[target]
        t0 = time.time()
        try:
            result = one_run(scale, config, data, source, target, oracles, deadline)
        except OutOfTime as e:
            print(f"{name}: {e}; resumes from its checkpoint", flush=True)
            continue
        except Exception as e:  # one failed run must not stop the grid; it stays missing
            print(f"{name}: FAILED: {type(e).__name__}: {e}", flush=True)
            continue
        write_json(path, result)
        print(f"{path.name}: avg F1 {result['avg_f1']:.3f} ({time.time() - t0:.0f} s)", flush=True)
    if left:
        print(f"left for a later invocation ({len(left)}): {', '.join(left)}", flush=True)


def _stop(signum: int, frame: object) -> None:
    """SIGINT or SIGTERM: stop this process's work once (runs keep their last checkpoint)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def run_all(scale: Scale, args: argparse.Namespace, argv: list[str]) -> None:
    """Render the data on every core, start ``--workers - 1`` helper processes (each its own
    CUDA context when on a GPU) and work alongside them.

    ``--budget-s`` sets a deadline all of them share; SIGINT or SIGTERM stops them (a helper
    stops on the signal the driver passes on, or on its own).
    """
    scale.results.mkdir(parents=True, exist_ok=True)
    deadline = args.deadline or (time.time() + args.budget_s if args.budget_s else None)
    render_data(scale, presets(plan(scale, args)), workers=os.cpu_count() or 1)
    claims = scale.work / "claims" / (args.claims or f"{os.getpid()}-{time.time_ns()}")
    shared = ["--workers", "1", "--claims", claims.name]
    shared += ["--deadline", repr(deadline)] if deadline else []
    helpers = [subprocess.Popen([sys.executable, __file__, *argv, *shared])
               for _ in range(args.workers - 1)]  # fmt: skip
    handlers = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        work_through(scale, args, claims, deadline)
    except KeyboardInterrupt:
        print("stopped: unfinished runs resume from their last checkpoint", flush=True)
        for helper in helpers:
            if helper.poll() is None:
                helper.send_signal(signal.SIGINT)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    for helper in helpers:
        helper.wait()


def render(scale: Scale) -> str:
    """The scale's markdown page from the JSONs in its results folder."""
    expected = {"pairs": list(scale.pairs), "methods": list(METHODS), "seeds": list(SEEDS)}
    if scale.name == "cpu":
        return render_document(scale.results, expected)
    return render_paper_document(scale, expected)


def write_document(scale: Scale) -> Path:
    """The scale's markdown page, written over the last one."""
    text = render(scale)
    with atomic_path(scale.doc, overwrite=True) as tmp:
        tmp.write_text(text)
    return scale.doc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-only", action="store_true", help="only rebuild the markdown")
    parser.add_argument("--scale", choices=sorted(SCALES), default="cpu",
                        help="cpu: the 2-core grid; paper: 128x128, default network, batch "
                             "128, 50 epochs, bf16 on one GPU (scales.py)")  # fmt: skip
    parser.add_argument("--work", help="data/checkpoint folder (default: the scale's)")
    parser.add_argument("--pairs", nargs="*", help="SOURCE:TARGET pairs (default: all)")
    parser.add_argument("--methods", nargs="*", choices=METHODS)
    parser.add_argument("--seeds", nargs="*", type=int)
    parser.add_argument("--no-quality", action="store_true", help="skip the oracle measures")
    parser.add_argument("--results", help="JSON folder (default: the scale's; others: trials)")
    parser.add_argument("--steps", type=int, help="override every method's steps (timing)")
    parser.add_argument("--epochs", type=int, help="every method's epochs instead of steps")
    parser.add_argument("--warmup-steps", type=int, default=0, help="D2CA source-AU warm-up")
    parser.add_argument("--batch", type=int, help="faces per domain per step (default: 16 on CPU)")
    parser.add_argument("--subjects", type=int, help="P subjects per source batch (default: "
                        "the scale's, 4 on the CPU)")  # fmt: skip
    parser.add_argument("--beta1", type=float, help="Adam's beta1 of every run (default 0.5)")
    parser.add_argument("--update-clip", action="store_true", default=None,
                        help="--update-clip in every run (Adam's update clipping)")  # fmt: skip
    parser.add_argument("--paper-network", action="store_true",
                        help="the default (paper's) network instead of the scale's")  # fmt: skip
    parser.add_argument("--device", default="auto", help="training device (auto: a GPU if any)")
    parser.add_argument("--cuda-graphs", action="store_true", default=None,
                        help="replay D2CA steps from a CUDA graph (--cuda-graphs of train)"
                        )  # fmt: skip
    parser.add_argument("--extend", action="store_true", help="start each run from the same "
                        "run with fewer steps where one has a checkpoint (budget.py)")  # fmt: skip
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes")
    parser.add_argument("--budget-s", type=float,
                        help="seconds for this invocation: start no run that is not expected "
                             "to end in time, stop running ones at a checkpoint before it"
                        )  # fmt: skip
    parser.add_argument("--partial", action="store_true",
                        help="with --budget-s: start runs that will not end in time (they stop "
                             "at a checkpoint, for the next invocation to resume)")  # fmt: skip
    parser.add_argument("--claims", help=argparse.SUPPRESS)  # set for helper processes
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)  # likewise
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per process (see the document)"
    )
    args = parser.parse_args(argv)
    if args.paper_network and not args.no_quality:  # the oracles are the scale's network's
        parser.error("--paper-network needs --no-quality")
    torch.set_num_threads(args.threads)
    _commit()
    scale = SCALES[args.scale].with_options(
        steps=args.steps, epochs=args.epochs, batch=args.batch, sampler_subjects=args.subjects,
        warmup_steps=args.warmup_steps, beta1=args.beta1, paper_network=args.paper_network,
        device=args.device, update_clip=args.update_clip,
        cuda_graphs=args.cuda_graphs, checkpoint_every=args.checkpoint_every, work=args.work,
        results=args.results,
    )  # fmt: skip
    if not args.render_only:
        run_all(scale, args, list(argv if argv is not None else sys.argv[1:]))
    if scale.results != SCALES[args.scale].results:
        return  # trial runs do not touch the document
    print(f"wrote {write_document(scale)}")


if __name__ == "__main__":
    main()
