"""Carry a grid from one device call to the next: pack its results, and what checkpoints fit.

A device call brings back at most 8 files of 16 MiB (64 MiB in all) from ``$OUT``, and takes
at most 64 MiB in, the working tree (about 15 MiB) included. So ``pack`` writes:

- ``results.tar.gz``: every JSON of the scale's results folder (``screen/`` too), a few tens
  of KB a run, always whole. Commit them: the next call gets them with the tree.
- ``runs.tar.gz.00``, ``.01``, ...: parts of at most 15 MiB of one archive holding the runs
  that stopped at a checkpoint (``train_config.json``, ``metrics.jsonl`` and the latest
  checkpoint), the most advanced first, then finished oracles (their model folders), as far
  as ``--max-mib`` (default 40: what the carry limit leaves beside the tree). Name their
  folder in the next call's ``carry`` and ``unpack`` them there.

Sizes: a checkpoint of the default network at 128x128 is 27 MiB with its Adam states (8.8 MiB
of weights, 18 of D2CA's optimiser states; a baseline's, 12 MiB); a finished oracle 10 MiB.
So one D2CA checkpoint travels per call, or a baseline's and an oracle. What is lost between
calls: the rendered data (rendered again, about 30 s a domain at the paper's scale), the
models of finished runs (their JSONs hold what the report reads; ``pictures.py`` needs one
trained again), and every run left out of the archive (it starts again from step 0; the
``pack`` output names them).

Run:  python benchmarks/synthau/pack.py pack "$OUT" --scale paper
      python benchmarks/synthau/pack.py unpack CARRY_DIR_OR_FILES... --scale paper
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scales import SCALES, Scale  # noqa: E402

from d2ca.train.checkpoint import latest_checkpoint  # noqa: E402

RESULTS_NAME = "results.tar.gz"
RUNS_NAME = "runs.tar.gz"
PART = 15 * 2**20  # under the 16 MiB a file may have to come back
MAX_FILES = 8
# safe extraction (no absolute paths, links out of the folder) where Python has it
SAFE = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def carried_items(scale: Scale) -> list[tuple[str, list[Path]]]:
    """``(name, files)`` worth carrying, most valuable first: each run of ``scale.work`` that
    stopped at a checkpoint (most steps first), then each target's finished oracles."""
    work = scale.work
    stopped = []
    for folder in (
        sorted(work.glob("runs/*"))
        + sorted(work.glob("screen/runs/*"))
        + sorted(work.glob("oracles/*/au"))
    ):
        last = latest_checkpoint(folder / "checkpoints")
        if last is None or (folder / "model" / "config.json").is_file():
            continue
        files = [folder / "train_config.json", folder / "metrics.jsonl", *sorted(last.iterdir())]
        stopped.append((int(last.name.split("-")[1]), folder, files))
    items = [(str(f.relative_to(work)), files) for _, f, files in sorted(stopped, reverse=True)]
    for done in sorted(work.glob("oracles/*/done")):
        oracle = done.parent
        model = sorted((oracle / "au" / "model").iterdir())
        files = [done, oracle / "identity.safetensors", *model]
        items.append((str(oracle.relative_to(work)), files))
    return items


def pack(scale: Scale, out: Path, max_mib: float = 40) -> list[Path]:
    """Write ``results.tar.gz`` and the parts of ``runs.tar.gz`` into ``out``; return them."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / RESULTS_NAME]
    with tarfile.open(written[0], "w:gz") as tar:
        for path in sorted(scale.results.rglob("*.json")) if scale.results.is_dir() else []:
            tar.add(path, arcname=str(Path("results") / path.relative_to(scale.results)))
    budget = min(max_mib * 2**20, (MAX_FILES - 1) * PART)
    chosen, size = [], 0
    for name, files in carried_items(scale):
        need = sum(f.stat().st_size for f in files)
        if size + need > budget:
            print(f"left out: {name} ({need / 2**20:.1f} MiB): it starts again", flush=True)
            continue
        chosen += files
        size += need
        print(f"packed: {name} ({need / 2**20:.1f} MiB)", flush=True)
    if chosen:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / RUNS_NAME
            with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
                for path in chosen:
                    tar.add(path, arcname=str(Path("work") / path.relative_to(scale.work)))
            with archive.open("rb") as src:
                while chunk := src.read(PART):
                    written.append(out / f"{RUNS_NAME}.{len(written) - 1:02d}")
                    written[-1].write_bytes(chunk)
    return written


def unpack(scale: Scale, paths: list[Path]) -> None:
    """Extract what :func:`pack` wrote (files, or folders holding them): JSONs into the
    results folder, run folders and oracles into the work folder."""
    files = [f for p in paths for f in (sorted(p.iterdir()) if p.is_dir() else [p])]
    parts = sorted(f for f in files if f.name.startswith(f"{RUNS_NAME}."))
    archives = [f for f in files if f.name == RESULTS_NAME]
    with tempfile.TemporaryDirectory() as tmp:
        if parts:
            joined = Path(tmp) / RUNS_NAME
            with joined.open("wb") as dst:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, dst)
            archives.append(joined)
        roots = {"results": scale.results, "work": scale.work}
        for archive in archives:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar.getmembers():
                    root, _, member.name = member.name.partition("/")
                    tar.extract(member, roots[root], **SAFE)
                print(f"unpacked {archive.name}: {len(tar.getmembers())} files", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("paths", nargs="+", type=Path, help="pack: OUT; unpack: files/folders")
    parser.add_argument("--scale", choices=sorted(SCALES), default="paper")
    parser.add_argument("--work", help="data/checkpoint folder (default: the scale's)")
    parser.add_argument("--results", help="JSON folder (default: the scale's)")
    parser.add_argument("--max-mib", type=float, default=40, help="checkpoints packed at most")
    args = parser.parse_args(argv)
    scale = SCALES[args.scale].with_options(work=args.work, results=args.results)
    if args.action == "unpack":
        unpack(scale, args.paths)
        return
    for path in pack(scale, args.paths[0], args.max_mib):
        print(f"wrote {path} ({os.path.getsize(path) / 2**20:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()
