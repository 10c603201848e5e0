"""``d2ca`` command line. Each module registers its commands on the shared app."""

import os

from d2ca.cli import adapt, datasets, infer, synth, train  # noqa: F401  (register commands)
from d2ca.cli.app import app


def main() -> None:
    # FFmpeg, inside OpenCV, prints its own complaint about a broken video ("moov atom not
    # found") beside d2ca's one-line report of the same file. Quiet unless the user set the
    # variable (24 shows FFmpeg's warnings).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    app()


__all__ = ["app", "main"]
