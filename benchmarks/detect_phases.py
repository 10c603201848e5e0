"""Where the time of ``d2ca detect`` goes on a 640x360 video: time to the first row, and a
profile of the whole video (CPU or CUDA).

Measures, on a video of ``detect_video.py`` (``--video``, ``--frames``; or ``--video-file``, e.g.
one ``detect_video.py --save-video`` kept), the shipped model:
  * time to the first row, in ``--starts`` fresh processes, each phase in seconds from the
    moment the process was launched: Python and torch imported, d2ca imported, CUDA started
    (a first tensor on the device; CUDA only), the checkpoint loaded onto the device, the
    face detector built, the first batch of rows done (``detect_aus``'s first progress call),
    the whole video done; and the whole command ``d2ca detect VIDEO -o OUT.csv --device D``
    from launch to exit;
  * where a warm pipeline's time goes over the whole video (the run after a warm-up, tracking
    at the default interval): wall time inside each stage from Python's profiler (full MTCNN,
    the O-Net stretches of tracking, alignment, the AU network, and waiting for the reader
    thread's decoded frames), and from ``torch.profiler`` the kernel launches, host-device
    synchronisations and top ops (``train_step.py``'s summary) over the video's first
    ``--profile-frames`` frames (per run; divide by frames): a trace of the whole video takes
    longer to summarise than to record.

Run:  python benchmarks/detect_phases.py [--device auto] [--video realistic] [--frames 472]
          [--video-file PATH] [--starts 2] [--profile-frames 96] [--json OUT.json]
Prints one JSON object (and writes it to ``--json``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

import cv2
import torch
from detect_video import FPS, make_video, write_json
from step_profile import STEP_LABEL, summarise_profile
from train_step import environment

from d2ca.data.media import iter_video, video_frame_count
from d2ca.devices import resolve_device

# The child process of one start: phases as seconds since the parent launched it (argv[1]).
CHILD = """
import json, sys, time
launched, video, device = float(sys.argv[1]), sys.argv[2], sys.argv[3]
at = {"python_started": time.time() - launched}
import torch
at["torch_imported"] = time.time() - launched
from d2ca.inference.pipeline import D2CA
at["d2ca_imported"] = time.time() - launched
if device.startswith("cuda"):
    torch.zeros(1, device=device)
    torch.cuda.synchronize(device)
    at["cuda_started"] = time.time() - launched
pipeline = D2CA.from_pretrained(device=device)
at["model_loaded"] = time.time() - launched
pipeline.detector
at["detector_built"] = time.time() - launched
def progress(frames):
    at.setdefault("first_rows", time.time() - launched)
result = pipeline.detect_aus(video, progress=progress)
at["video_done"] = time.time() - launched
at["rows"] = len(result)
print(json.dumps(at))
"""
# The stages of detect_aus, as (file name, function name) of the profiled functions.
STAGES = {
    "full_mtcnn": ("detect.py", "detect"),
    "onet_stretches": ("track.py", "_follow"),
    "alignment": ("align.py", "align_face"),
    "au_network": ("pipeline.py", "_au_probabilities"),
    "waiting_for_frames": ("queue.py", "get"),
    "detect_aus": ("pipeline.py", "detect_aus"),
}


def time_to_first_row(video: Path, device: str, starts: int) -> dict[str, Any]:
    """The phases of ``starts`` fresh processes (each phase's fastest) and the whole command."""
    runs = []
    for _ in range(starts):
        launched = time.time()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, repr(launched), str(video), device],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.splitlines()[-1]))
    phases = {k: min(run[k] for run in runs) for k in runs[0] if k != "rows"}
    commands = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(starts):
            cli = "from d2ca.cli import main; main()"
            args = ["detect", str(video), "-o", f"{tmp}/aus.csv", "--device", device]
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", cli, *args, "--overwrite"], check=True, capture_output=True
            )
            commands.append(time.perf_counter() - start)
    return {"phases_s": phases, "starts": runs, "command_s": commands}


def first_frames(video: Path, frames: int, out: Path) -> None:
    """The first ``frames`` frames of ``video`` as another mp4v video."""
    writer = None
    for frame in islice(iter_video(video), frames):
        if writer is None:
            size = frame.image.shape[1::-1]
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
        writer.write(frame.image[..., ::-1])
    if writer is not None:
        writer.release()


def stage_times(pipeline: Any, video: Path) -> dict[str, float]:
    """Wall seconds inside each of STAGES during one ``detect_aus`` run (Python's profiler)."""
    profile = cProfile.Profile()
    profile.runcall(pipeline.detect_aus, video, progress=False)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    out = {}
    for stage, (file, function) in STAGES.items():
        out[stage] = sum(
            cumulative
            for (path, _, name), (_, _, _, cumulative, _) in stats.items()
            if name == function and Path(path).name == file
        )
    return out


def torch_profile(pipeline: Any, video: Path, cuda: bool) -> dict[str, Any]:
    """``train_step.py``'s profiler summary of one ``detect_aus`` run over the video, and the
    ops that cost the host the most (on a GPU, launching and waiting is host time)."""
    from torch.profiler import ProfilerActivity, profile, record_function

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        with record_function(STEP_LABEL):
            pipeline.detect_aus(video, progress=False)
            if cuda:
                torch.cuda.synchronize()
    out = summarise_profile(list(prof.events()), 1, cuda)
    host = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    out["top_host_ops"] = [
        {"name": e.key, "calls": e.count, "self_cpu_ms": round(e.self_cpu_time_total / 1e3, 3)}
        for e in host[:15]
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--video", choices=("realistic", "rendered-drift"), default="realistic")
    parser.add_argument("--frames", type=int, default=472)
    parser.add_argument("--video-file", type=Path, help="this video instead of a rendered one")
    parser.add_argument("--starts", type=int, default=2, help="fresh processes timed")
    parser.add_argument("--profile-frames", type=int, default=96, help="frames traced")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = str(device)
    figures: dict[str, Any] = {
        "command": "python benchmarks/detect_phases.py " + " ".join(sys.argv[1:]),
        "video": args.video,
        "frames": args.frames,
        "profile_frames": args.profile_frames,
        "device": name,
        **environment(device),
    }
    from d2ca.inference.pipeline import D2CA

    with tempfile.TemporaryDirectory() as tmp:
        video, start_of_video = Path(tmp) / "video.mp4", Path(tmp) / "start.mp4"
        if args.video_file:
            video = args.video_file
            figures.update(video=str(video), frames=video_frame_count(video))
        else:
            make_video(args.video, video, args.frames)
        first_frames(video, args.profile_frames, start_of_video)
        figures["first_row"] = time_to_first_row(video, name, args.starts)
        if args.json:  # written after each phase: a run stopped at its time limit keeps them
            write_json(args.json, figures)
        pipeline = D2CA.from_pretrained(device=device)
        pipeline.detect_aus(video, progress=False)  # warm-up
        start = time.perf_counter()
        figures["stages_s"] = stage_times(pipeline, video)
        figures["profiled_run_s"] = time.perf_counter() - start
        if args.json:
            write_json(args.json, figures)
        figures["profile"] = torch_profile(pipeline, start_of_video, device.type == "cuda")
    if args.json:
        write_json(args.json, figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
