"""Runs docs/your-data.md's walk-through and records what it pastes: every command's output
and wall time, the adapted model's card and report, and the report's pictures.

    python examples/your_data_walkthrough.py /tmp/walk --docs docs

Runs in ``/tmp/walk`` (the doc's relative paths, ``demo/``, ``prepared/mine``, ``runs/mine``,
are under it) and writes ``docs/your-data/walkthrough.json`` and the doc's three pictures
(``docs/img/adapt_*.png``); ``tests/test_docs_agree.py`` checks the doc's console blocks
and times against the JSON. A few minutes on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
BAR = re.compile(r"\|.*\||\d+(\.\d+)?(it|s|frame|file)/s|s/it")

# The doc's commands, in order, as it shows them (run from the working folder).
COMMANDS = (
    "python examples/make_demo_footage.py demo",
    "find demo -type f | sort",
    "d2ca prepare folder demo/footage --out prepared/mine --every 2 --labels demo/labels.csv",
    "d2ca adapt --synth lab-a --synth-subjects 20 --synth-frames 10 --target prepared/mine "
    "--out runs/mine --steps 20 --batch-size 8 --subjects 4 --checkpoint-every 10 --threads 1",
    "d2ca detect demo/footage/day1/desk.mp4 --model runs/mine/model --every 10 -o desk_aus.csv",
    "python -c \"import csv; [print(r['frame'], r['success'], r['AU06'], r['AU06_c'], "
    "r['AU12'], r['AU12_c']) for r in csv.DictReader(open('desk_aus.csv'))]\"",
)
# The report's pictures the doc shows: report file -> docs/img file.
PICTURES = {
    "base_rates.png": "adapt_base_rates.png",
    "tsne_adapted.png": "adapt_tsne_adapted.png",
    "swap_grid.png": "adapt_swap_grid.png",
}


def without_bars(stderr: str) -> list[str]:
    """The log lines of a command's stderr, without tqdm's progress bars (each redraw, after
    a ``\\r`` that ``splitlines`` splits at, has its ``|...|`` bar or its rate)."""
    lines = (line.strip() for line in stderr.splitlines())
    return [line for line in lines if line and not BAR.search(line)]


def run(command: str, cwd: Path) -> dict:
    """One command in ``cwd``: what it printed (its log on stderr, then stdout, as a
    terminal shows them at the end; progress bars left out) and its wall seconds.
    ``python`` is this interpreter, ``examples/`` this folder, ``d2ca`` the one beside it."""
    shell = command.replace("python examples/", f"{sys.executable} {EXAMPLES}/", 1)
    shell = shell.replace("python -c", f"{sys.executable} -c", 1)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    done = subprocess.run(shell, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{command!r} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    output = "\n".join([*without_bars(done.stderr), *done.stdout.rstrip("\n").splitlines()])
    return {"command": command, "output": output, "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="an empty or new working folder")
    parser.add_argument("--docs", type=Path, default=EXAMPLES.parent / "docs")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if any(args.work.iterdir()):
        raise SystemExit(f"{args.work} is not empty")
    steps = [run(command, args.work) for command in COMMANDS]
    model, report = args.work / "runs/mine/model", args.work / "runs/mine/report"
    record = {
        "steps": steps,
        "card": (model / "README.md").read_text(),
        "report": (report / "report.md").read_text(),
        "cpu_count": os.cpu_count(),
    }
    out = args.docs / "your-data" / "walkthrough.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    for name, target in PICTURES.items():
        shutil.copyfile(report / name, args.docs / "img" / target)
    print(f"wrote {out} and {len(PICTURES)} pictures")


if __name__ == "__main__":
    main()
