"""Helpers of ``benchmarks/gpu/check.sh``: the environment record, the step record, the summary.

Usage (from check.sh; standard library only, so that it runs where torch is broken too):
    python benchmarks/gpu/results.py env OUT_DIR [NVIDIA_SMI_CSV]   -> OUT_DIR/env.json
    python benchmarks/gpu/results.py steps STEPS_TSV OUT_DIR/steps.json
    python benchmarks/gpu/results.py summary OUT_DIR                -> stdout, OUT_DIR/summary.txt
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "torchvision", "numpy", "facenet-pytorch", "d2ca", "pytest", "pytest-xdist",
            "opencv-python-headless", "safetensors", "huggingface_hub", "triton")  # fmt: skip
# exit codes whose meaning a reader should not have to look up
MEANING = {0: "ok", 1: "failed", 2: "usage error or interrupted", 5: "pytest: no tests ran",
           124: "timed out", 137: "killed after the timeout"}  # fmt: skip


def write_json(path: Path, data: object) -> None:
    """Write ``data`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def env(out_dir: Path, smi_csv: Path | None = None) -> None:
    """Python, packages, torch's view of CUDA and ``nvidia-smi``'s GPU line into env.json."""
    record: dict[str, object] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": {},
    }
    for name in PACKAGES:
        try:
            record["packages"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            record["packages"][name] = None
    if smi_csv is not None and smi_csv.is_file():
        lines = [x.strip() for x in smi_csv.read_text().splitlines() if x.strip()]
        record["nvidia_smi"] = lines
    code = (
        "import json, torch\n"
        "c = torch.cuda.is_available()\n"
        "print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda,\n"
        "  'cudnn': torch.backends.cudnn.version(), 'cuda_available': c,\n"
        "  'device_count': torch.cuda.device_count() if c else 0,\n"
        "  'device_name': torch.cuda.get_device_name(0) if c else None,\n"
        "  'capability': list(torch.cuda.get_device_capability(0)) if c else None}))\n"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        record["torch"] = (
            json.loads(proc.stdout) if proc.returncode == 0 else {"error": proc.stderr[-2000:]}
        )
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        record["torch"] = {"error": repr(e)}
    record["git_commit"] = os.environ.get("D2CA_CHECK_COMMIT")  # .git may not travel
    if not record["git_commit"]:
        try:
            head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
            record["git_commit"] = head.stdout.strip() or None
        except OSError:
            pass
    write_json(out_dir / "env.json", record)


def steps(tsv: Path, out: Path) -> None:
    """The tab-separated step record (name, rc, seconds, timeout, note, command) as JSON."""
    rows = []
    for line in tsv.read_text().splitlines():
        name, rc, secs, limit, note, command = (line.split("\t") + [""] * 6)[:6]
        code = int(rc) if rc.lstrip("-").isdigit() else None
        rows.append(
            {
                "step": name,
                "rc": code,
                "meaning": MEANING.get(code, "failed") if code is not None else "not run",
                "seconds": float(secs) if secs else None,
                "timeout_s": int(limit) if limit.isdigit() else None,
                "note": note,
                "command": command,
            }
        )
    write_json(out, rows)


def _junit(path: Path) -> str:
    """``passed/failed/errors/skipped`` of a junit XML, or why there is none."""
    if not path.is_file():
        return "no report"
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return "unreadable report"
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures",
                                                                  "errors", "skipped")}  # fmt: skip
    passed = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    failed = [
        f"{c.get('classname', '')}::{c.get('name', '')}"
        for s in suites
        for c in s.iter("testcase")
        if c.find("failure") is not None or c.find("error") is not None
    ]
    text = (f"{passed} passed, {total['failures']} failed, {total['errors']} errors, "
            f"{total['skipped']} skipped")  # fmt: skip
    return text + "".join(f"\n      FAILED {name}" for name in failed[:20])


def summary(out_dir: Path) -> None:
    """A short table of what ran, the tests and the step timings; also to summary.txt."""
    lines = []
    env_path = out_dir / "env.json"
    if env_path.is_file():
        e = json.loads(env_path.read_text())
        t = e.get("torch", {})
        smi = e.get("nvidia_smi", [])
        lines.append(
            f"env: python {e.get('python')}, torch {t.get('torch')}, CUDA {t.get('cuda')}, "
            f"cuDNN {t.get('cudnn')}, GPU {t.get('device_name')}"
            + (f"; nvidia-smi: {smi[-1]}" if smi else "")
        )
    steps_path = out_dir / "steps.json"
    if steps_path.is_file():
        lines.append("step                         rc  meaning                      seconds")
        for s in json.loads(steps_path.read_text()):
            rc = "-" if s["rc"] is None else s["rc"]
            secs = "-" if s["seconds"] is None else f"{s['seconds']:.0f}"
            lines.append(f"{s['step']:<28} {rc!s:>3}  {s['meaning']:<28} {secs:>7}"
                         + (f"  ({s['note']})" if s["note"] else ""))  # fmt: skip
    for name in ("cuda-tests", "suite"):
        lines.append(f"{name}: {_junit(out_dir / f'{name}.xml')}")
    header = (f"{'variant':<24} {'d2ca s':>8} {'peak GiB':>8} {'GFLOP/s':>9} {'of bf16 mm':>10} "
              f"{'src-only s':>10} {'warm-up s':>9}")  # fmt: skip
    rows = []
    for path in sorted(out_dir.glob("train_step_*.json")):
        r = json.loads(path.read_text())
        d = r.get("d2ca", {})
        rows.append(
            f"{path.stem.removeprefix('train_step_'):<24} {d.get('step_s', '-')!s:>8} "
            f"{d.get('peak_gib', '-')!s:>8} {d.get('gflop_per_s', '-')!s:>9} "
            f"{r.get('d2ca_fraction_of_bf16_matmul', '-')!s:>10} "
            f"{r.get('source-only', {}).get('step_s', '-')!s:>10} {d.get('warmup_s', '-')!s:>9}"
        )
    if rows:
        first = json.loads(next(out_dir.glob("train_step_*.json")).read_text())
        lines.append(
            f"train_step on {first.get('gpu_name') or first.get('device')}, batch "
            f"{first.get('batch_per_domain')} per domain, {first.get('image_size')} px; matmul "
            f"fp32 {first.get('matmul_gflop_per_s')} GFLOP/s, "
            f"bf16 {first.get('matmul_bf16_gflop_per_s', '-')} GFLOP/s"
        )
        lines += [header, *rows]
    for prof in sorted(out_dir.glob("profile_*.json")):
        p = json.loads(prof.read_text())
        lines.append(
            f"{prof.stem} (diagnostics {'on' if p.get('diagnostics_every_step') else 'off'}, "
            f"CUDA graphs {'on' if p.get('cuda_graphs') else 'off'}): "
            f"wall {p.get('wall_ms_per_step')} ms/step, device busy "
            f"{p.get('device_busy_ms_per_step')} ms, GPU idle share {p.get('gpu_idle_share')}, "
            f"launches {p.get('kernel_launches_per_step')}/step, host-device syncs "
            f"{p.get('host_device_syncs_per_step')}/step, scalar reads "
            f"{p.get('host_scalar_reads_per_step')}/step"
        )
    stacked_path = out_dir / "stacked_passes.json"
    if stacked_path.is_file():  # separate calls' time over one stacked call's, per mode
        for net, r in json.loads(stacked_path.read_text())["nets"].items():
            ratios = {k.removesuffix("_separate_over_stacked"): v for k, v in r.items()
                      if k.endswith("_separate_over_stacked")}  # fmt: skip
            lines.append(f"stacked passes {net}: separate / stacked {ratios}")
    text = "\n".join(lines) + "\n"
    (out_dir / "summary.txt").write_text(text)
    print(text, end="")


def main() -> None:
    verb, *rest = sys.argv[1:] or ["help"]
    if verb == "env" and rest:
        env(Path(rest[0]), Path(rest[1]) if len(rest) > 1 else None)
    elif verb == "steps" and len(rest) == 2:
        steps(Path(rest[0]), Path(rest[1]))
    elif verb == "summary" and rest:
        summary(Path(rest[0]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
