"""The dataset readers' memory: bytes held per labelled frame record.

Builds, with the tests' builders, a BP4D tree and an Aff-Wild2 tree in their distributed
layouts (8 x 8 frames: the readers never decode them), then reads each with its registered
reader under ``tracemalloc`` and divides what the returned records hold (traced memory
after reading, less before) by their number. The figure times Aff-Wild2's labelled frames
(about 2 million) gives the readers' share of memory for the largest dataset.

Run:  python benchmarks/reader_memory.py [--frames 2000] [--json OUT.json]
      (BP4D: frames per subject and task, 3 subjects x 4 tasks;
       Aff-Wild2: frames per video, 3 videos)
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _datasets import make_affwild2, make_bp4d  # noqa: E402
from train_step import write_json  # noqa: E402

from d2ca.data.readers import reader_for  # noqa: E402

AFFWILD2_FRAMES = 2_000_000  # labelled frames of Aff-Wild2's AU set, roughly


def held(name: str, root: Path) -> dict:
    """Records ``name``'s reader returns for ``root`` and the bytes they keep allocated."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    records = reader_for(name)(root)
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"records": len(records), "bytes_per_record": round((after - before) / len(records)),
            "peak_bytes_per_record": round((peak - before) / len(records))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result: dict = {"command": "python benchmarks/reader_memory.py " + " ".join(sys.argv[1:])}
    with tempfile.TemporaryDirectory() as tmp:
        make_bp4d(Path(tmp) / "bp4d", tasks=("T1", "T2", "T3", "T4"),
                  frames=tuple(range(1, args.frames + 1)))  # fmt: skip
        result["bp4d"] = held("bp4d", Path(tmp) / "bp4d")
        make_affwild2(Path(tmp) / "affwild2", frames=args.frames)
        result["affwild2"] = held("affwild2", Path(tmp) / "affwild2")
    per = result["affwild2"]["bytes_per_record"]
    result["affwild2_full_gb"] = round(per * AFFWILD2_FRAMES / 1e9, 2)
    if args.json:
        write_json(args.json, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
