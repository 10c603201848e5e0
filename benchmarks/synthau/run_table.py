"""Reproduce the paper's tables on SynthAU, run by run and resumable.

Each training run stores one JSON in ``docs/benchmark-synthetic/`` as soon as it finishes;
a run whose JSON exists is skipped, so the document regenerates without retraining::

    python benchmarks/synthau/run_table.py                  # train what is missing, write docs
    python benchmarks/synthau/run_table.py --render-only    # rebuild the markdown from the JSONs
    python benchmarks/synthau/run_table.py --pairs lab-a:wild --methods d2ca --seeds 0  # one run

Rendered data, checkpoints and oracles live in ``--work`` (outside the repository).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

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

from d2ca.aus import DATASET_AUS, au_name  # noqa: E402
from d2ca.config import D2CAConfig  # noqa: E402
from d2ca.data.manifest import Manifest, read_manifest  # noqa: E402
from d2ca.evaluation import evaluate  # noqa: E402
from d2ca.hub import load_folder  # noqa: E402
from d2ca.io import atomic_path  # noqa: E402
from d2ca.models import to_uint8_images  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "docs" / "benchmark-synthetic"
DOC = REPO / "docs" / "benchmark-synthetic.md"
DEFAULT_WORK = Path("/tmp/d2ca-synthau")

# the grid: pairs with a real gap at this budget (see SCREEN and the document). lab-c is the
# one target besides lab-a that screen_targets.py found learnable with a gap (from lab-b)
PAIRS = (("wild", "lab-a"), ("lab-b", "lab-a"), ("social", "lab-a"), ("lab-b", "lab-c"))
# candidate pairs screened with Source only and Target only (seed 0) for a real gap
SCREEN = (("lab-a", "wild"), ("lab-a", "lab-b"), ("lab-a", "social"))
SEEDS = (0, 1, 2)
AUS = tuple(au_name(n) for n in DATASET_AUS["synthau"])

# --- the CPU budget (2 shared cores, about three hours for the whole grid) --------------
IMAGE_SIZE = 64
DATA = {"subjects": 60, "frames_per_subject": 30, "size": IMAGE_SIZE}
DATA_SEEDS = {"lab-a": 101, "lab-b": 102, "social": 103, "wild": 104, "lab-c": 105}
# Narrower than the paper's network so that the grid fits on CPU. The encoders are wider than
# 0.1.0's grid (8..32 channels), whose Target only stayed below the 60 F1 the benchmark needs
# (55 at 2000 steps on lab-a); at these widths Target only passes 60 within the budget
# (docs/benchmark-synthetic.md, "Choosing the budget"). The objective is the default one
# (docs/training.md, marked choices); the 0.1.0 grid, trained with the paper's values of
# those choices, is in git history (commit 9b9d47b).
MODEL = {
    "enc_widths": (12, 16, 24, 32, 48, 48, 64, 64),
    "dec_widths": (32, 24, 16, 16, 8, 8),
    "dec_aux_channels": 4,
    "disc_widths": (8, 16, 32),
    "proj_hidden": 32,
    "proj_dim": 16,
}
BATCH = 16
# The baselines are cheap: they train until Source only has plateaued (issue 8's bar for a
# benchmark that means something). The D2CA variants cost ~40 baseline steps each and get a
# quarter of those steps; the report compares them with Source only at equal steps too.
STEPS = dict.fromkeys(METHODS, 2000) | dict.fromkeys(D2CA_VARIANTS, 500)
EVAL_EVERY = 100  # every run, so that D2CA and Source only are compared at the same steps
WARMUP = {"steps": 0}  # source-AU warm-up steps of the trainer (0: the paper's objective)
ORACLE = {"au_steps": 1500, "id_steps": 600, "pairs": 256, "seed": 1000}
MIN_POSITIVES = 5  # an AU is scored on a pair when both splits hold this many positives


# ---------------------------------------------------------------------------- data
def render_data(work: Path, presets: set[str]) -> dict[str, Path]:
    """Render each preset once into ``work/data/PRESET`` (skipped when its manifest exists)."""
    from d2ca.data.synth import render_dataset

    out = {}
    for preset in sorted(presets):
        folder = work / "data" / preset
        if not (folder / "manifest.csv").is_file():
            t0 = time.time()
            render_dataset(folder, preset, seed=DATA_SEEDS[preset], **DATA)
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


def train(source: Path, target: Path, method: str, seed: int, steps: int, out: Path) -> float:
    """One run of the trainer (:func:`d2ca.train.trainer.train`); returns its wall time (s).

    Every run is evaluated every ``EVAL_EVERY`` steps: the report reads Source only's plateau
    and D2CA's source-validation F1 against Source only's (issue 8's bar) from these curves.
    """
    from d2ca.train.config import TrainConfig
    from d2ca.train.trainer import train as run_trainer

    config = TrainConfig(
        source=str(source), target=str(target), method=method, seed=seed, steps=steps,
        batch_size=BATCH, model={k: list(v) if isinstance(v, tuple) else v
                                 for k, v in MODEL.items()} | {"image_size": IMAGE_SIZE},
        warmup_steps=WARMUP["steps"] if method in D2CA_VARIANTS else 0,
        eval_every=min(EVAL_EVERY, steps),
        checkpoint_every=steps, log_every=10, out_dir=str(out),
        progress=False,
    )  # fmt: skip
    t0 = time.time()
    run_trainer(config, overwrite=True)
    return time.time() - t0


def f1_curve(out: Path, split: str, aus: list[str]) -> list[list[float]]:
    """``[step, average F1 over aus]`` on ``split`` (``target_test``, ``source_val``) at each
    evaluation of a run."""
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [
        [r["step"], float(np.mean([r[split]["f1"][a] for a in aus]))]
        for r in rows
        if r.get("kind") == "eval" and split in r
    ]


def au_loss_curve(out: Path) -> list[float]:
    """First and last logged source AU loss (``au_s`` for D2CA, ``au`` for the baselines)."""
    values = []
    for line in (out / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row.get("kind") == "train":
            loss = row["loss"]
            values.append(float(loss.get("au_s", loss.get("au", float("nan")))))
    return values[:1] + values[-1:]


def one_run(data: dict[str, Path], work: Path, source: str, target: str, method: str,
            seed: int, oracles: dict | None) -> dict:  # fmt: skip
    warm = f"__warmup{WARMUP['steps']}" if WARMUP["steps"] and method in D2CA_VARIANTS else ""
    out = work / "runs" / f"{run_name(source, target, method, seed)}__steps{STEPS[method]}{warm}"
    wall = None  # None: trained by an earlier, interrupted invocation
    if not (out / "model" / "config.json").is_file():
        wall = round(train(data[source], data[target], method, seed, STEPS[method], out), 1)
    model = load_folder(out / "model")
    src, tgt = read_manifest(data[source]), read_manifest(data[target])
    scored = evaluate(model, tgt.split("test"), au_names=list(AUS))
    aus = pair_aus(src, tgt)
    result = {
        "source": source,
        "target": target,
        "method": method,
        "seed": seed,
        "steps": STEPS[method],
        "warmup_steps": WARMUP["steps"] if method in D2CA_VARIANTS else 0,
        "batch_size": BATCH,
        "wall_time_s": wall,
        "f1": scored["f1"],
        "aus": aus,
        "avg_f1": float(np.mean([scored["f1"][a] for a in aus])),
        "n_test": scored["n"],
        "au_loss_first_last": au_loss_curve(out),
        "target_curve": f1_curve(out, "target_test", aus),
        "source_curve": f1_curve(out, "source_val", aus),
        "config": {
            "image_size": IMAGE_SIZE,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in MODEL.items()},
        },  # fmt: skip
        "data": {**DATA, "seeds": DATA_SEEDS},
        "code": _commit(),
        "host": f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__}",
    }
    if method in D2CA_VARIANTS and oracles is not None:
        result["quality"] = quality(model, src, tgt, aus, oracles)
    return result


@functools.cache
def _commit() -> str:
    """The repository commit when this process started (``+dirty``: d2ca/ differed from it).

    Cached from the first call in :func:`main`: the process imported the code then.
    """
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "d2ca"], check=False)
    return head.stdout.strip() + ("+dirty" if dirty.returncode else "")


# ---------------------------------------------------------------------------- oracles
def oracle_for(data: dict[str, Path], work: Path, target: str) -> dict:
    """The AU oracle (long target-only run) and identity oracle of one target domain."""
    from safetensors.torch import load_file, save_file

    folder = work / "oracles" / target
    au_dir = folder / "au"
    if not (au_dir / "model" / "config.json").is_file():
        train(data[target], data[target], "target-only", ORACLE["seed"], ORACLE["au_steps"], au_dir)
    au_oracle = load_folder(au_dir / "model")
    cfg = D2CAConfig(image_size=IMAGE_SIZE, **MODEL)
    test = read_manifest(data[target]).split("test")
    gallery, probe = gallery_probe_split(test)
    subjects = sorted(set(test.subjects))
    ids = np.array([subjects.index(s) for s in test.subjects])
    images = load_images(test, cfg)
    weights = folder / "identity.safetensors"
    if weights.is_file():
        id_oracle = IdentityOracle(cfg, len(subjects))
        id_oracle.load_state_dict(load_file(str(weights)))
        id_oracle.eval()
    else:
        id_oracle = train_identity_oracle(
            images[gallery], ids[gallery], cfg, steps=ORACLE["id_steps"], seed=ORACLE["seed"]
        )
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
    }


def pairing(source_test: Manifest, oracles: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fixed random pairs (AU source face, target probe face), ``ORACLE['pairs']`` of them."""
    rng = np.random.default_rng(ORACLE["seed"])
    probe = np.flatnonzero(oracles["probe"])
    n = ORACLE["pairs"]
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


def references(data: dict[str, Path], source: str, target: str, oracles: dict) -> dict:
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
        "oracle": {"au_steps": ORACLE["au_steps"], "id_steps": ORACLE["id_steps"]},
    }  # fmt: skip


# ---------------------------------------------------------------------------- driver
def task_list(pairs: list, methods: list, seeds: list, quality: bool) -> list[tuple]:
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
            out += [("run", s, t, m, seed) for s, t in SCREEN if (s, t) not in pairs
                    for m in ("source-only", "target-only")]  # fmt: skip
    return out


def claim(folder: Path, name: str) -> bool:
    """Atomically take ``name`` for this worker; False when another worker holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(folder / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def work_through(args: argparse.Namespace, claims: Path) -> None:
    """One worker: take each unclaimed task of the list in order and do it."""
    pairs = [tuple(p.split(":")) for p in args.pairs] if args.pairs else list(PAIRS)
    methods = args.methods or list(METHODS)
    seeds = args.seeds if args.seeds is not None else list(SEEDS)
    work, results = Path(args.work), Path(args.results)
    data = render_data(work, {p for pair in (*pairs, *SCREEN) for p in pair})
    oracle_cache: dict[str, dict] = {}
    for task in task_list(pairs, methods, seeds, not args.no_quality):
        if task[0] == "oracle":
            _, target, sources = task
            done = work / "oracles" / target / "done"
            if not done.is_file() and claim(claims, f"oracle-{target}"):
                oracles = oracle_for(data, work, target)
                for source in sources:
                    ref = results / f"reference__{source}_to_{target}.json"
                    write_json(ref, references(data, source, target, oracles))
                done.write_text("ok\n")
                print(f"oracles of {target} ready", flush=True)
            continue
        _, source, target, method, seed = task
        name = run_name(source, target, method, seed)
        path = results / f"{name}.json"
        if path.is_file() or not claim(claims, name):
            continue
        oracles = None
        if method in D2CA_VARIANTS and not args.no_quality:
            while not (work / "oracles" / target / "done").is_file():
                time.sleep(10)  # another worker is training them
            if target not in oracle_cache:
                oracle_cache[target] = oracle_for(data, work, target)
            oracles = oracle_cache[target]
        t0 = time.time()
        try:
            result = one_run(data, work, source, target, method, seed, oracles)
        except Exception as e:  # one failed run must not stop the grid; it stays missing
            print(f"{name}: FAILED: {type(e).__name__}: {e}", flush=True)
            continue
        write_json(path, result)
        print(f"{path.name}: avg F1 {result['avg_f1']:.3f} ({time.time() - t0:.0f} s)", flush=True)


def run_all(args: argparse.Namespace, argv: list[str]) -> None:
    """Start ``--workers - 1`` helper processes and work alongside them."""
    Path(args.results).mkdir(parents=True, exist_ok=True)
    claims = Path(args.work) / "claims" / (args.claims or f"{os.getpid()}-{time.time():.0f}")
    helpers = [
        subprocess.Popen(
            [sys.executable, __file__, *argv, "--workers", "1", "--claims", claims.name]
        )  # fmt: skip
        for _ in range(args.workers - 1)
    ]
    work_through(args, claims)
    for helper in helpers:
        helper.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-only", action="store_true", help="only rebuild the markdown")
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="data/checkpoint folder")
    parser.add_argument("--pairs", nargs="*", help="SOURCE:TARGET pairs (default: all)")
    parser.add_argument("--methods", nargs="*", choices=METHODS)
    parser.add_argument("--seeds", nargs="*", type=int)
    parser.add_argument("--no-quality", action="store_true", help="skip the oracle measures")
    parser.add_argument("--results", default=str(RESULTS), help="JSON folder (trial runs)")
    parser.add_argument("--steps", type=int, help="override every method's steps (timing)")
    parser.add_argument("--warmup-steps", type=int, default=0, help="D2CA source-AU warm-up")
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes")
    parser.add_argument("--claims", help=argparse.SUPPRESS)  # set for helper processes
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per process (see the document)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    _commit()
    WARMUP["steps"] = args.warmup_steps
    if args.steps:
        STEPS.update(dict.fromkeys(METHODS, args.steps))
    if not args.render_only:
        run_all(args, list(argv if argv is not None else sys.argv[1:]))
    if Path(args.results) != RESULTS:
        return  # trial runs do not touch the document
    expected = {"pairs": list(PAIRS), "methods": list(METHODS), "seeds": list(SEEDS)}
    text = render_document(RESULTS, expected)
    with atomic_path(DOC, overwrite=True) as tmp:
        tmp.write_text(text)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
