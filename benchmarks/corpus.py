"""Corpus throughput of ``d2ca.inference.corpus.detect_corpus`` with 1 and with 2 worker processes.

Writes ``--videos`` short 640x360 one-face videos (the astronaut drifting over grey, as in
``detect_video.py``) and runs the whole corpus into a fresh output folder once per worker
count, in one process run, default 128x128 networks with random weights, default detection
mode (tracking), on ``--device`` (``cpu``, ``cuda``, ``cuda:N`` or ``auto``; every worker
on that device). Reports frames/s of wall time (each run from the call to the last table,
worker start-up included) and the last / first worker count ratio. Each worker gets
``cores / workers`` torch threads (``--threads`` overrides). On CUDA the JSON also names the
GPU and the torch, CUDA and cuDNN versions.

Run:  python benchmarks/corpus.py [--videos 20] [--frames 60] [--workers 1 2] [--device cpu]
          [--json OUT.json]
Prints one JSON object (and writes it to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from detect_video import write_json, write_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, help="torch threads per worker")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    from train_step import environment

    from d2ca.config import D2CAConfig
    from d2ca.devices import resolve_device
    from d2ca.inference.corpus import detect_corpus
    from d2ca.inference.pipeline import D2CA
    from d2ca.models import D2CAModel

    device = resolve_device(args.device)
    model = D2CA(D2CAModel(D2CAConfig()).to(device))
    figures: dict[str, Any] = {
        "command": "python benchmarks/corpus.py " + " ".join(sys.argv[1:]),
        "videos": args.videos,
        "frames_per_video": args.frames,
        "cores": os.cpu_count() or 1,
        "device": str(device),
        **environment(device),
    }
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i in range(args.videos):
            write_video(corpus / f"clip{i:03d}.mp4", args.frames)
        for workers in args.workers:
            threads = args.threads or max(1, (os.cpu_count() or 1) // workers)
            start = time.perf_counter()
            items = list(
                detect_corpus(
                    model,
                    [corpus],
                    Path(tmp) / f"out{workers}",
                    workers=workers,
                    threads=threads,
                    progress=False,
                )
            )
            seconds = time.perf_counter() - start
            frames = sum(item.frames for item in items)
            assert frames == args.videos * args.frames, "a video was not analysed completely"
            figures[f"workers{workers}_threads"] = threads
            figures[f"workers{workers}_frames_per_s"] = frames / seconds
    if len(args.workers) > 1:
        first, last = args.workers[0], args.workers[-1]
        figures["scaling"] = (
            figures[f"workers{last}_frames_per_s"] / figures[f"workers{first}_frames_per_s"]
        )
    figures = {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
    if args.json:
        write_json(args.json, figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
