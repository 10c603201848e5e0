"""A small folder of "your own footage" for trying ``d2ca prepare folder`` and ``d2ca adapt``.

Made from the real photographs scikit-image ships (``skimage.data.astronaut()``, the one with
a face, and ``coffee()``, without one): two stills, two short videos of the face drifting
and zooming, and a broken file, plus a labels CSV for a few frames.

    python examples/make_demo_footage.py demo        # writes demo/footage/ and demo/labels.csv

The labels are our reading of the photograph (she smiles: AU06 and AU12 present, brows
at rest), not certified FACS coding; they only show the format.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import skimage.data


def drift(photo: np.ndarray, frames: int, *, mirror: bool, gain: float) -> list[np.ndarray]:
    """Frames of 480 x 320 showing a window of the photo moving right and zooming in."""
    out = []
    for i in range(frames):
        side = int(300 - 2 * i)
        x, y = 60 + 3 * i, 10 + i
        crop = cv2.resize(photo[y : y + side, x : x + side], (320, 320))
        frame = np.full((320, 480, 3), 40, np.uint8)
        frame[:, 80:400] = np.clip(crop * gain, 0, 255).astype(np.uint8)
        out.append(frame[:, ::-1] if mirror else frame)
    return out


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (480, 320))
    for frame in frames:
        writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create")
    out = parser.parse_args().out
    footage = out / "footage"
    if footage.exists():
        raise SystemExit(f"{footage} exists")
    astronaut = skimage.data.astronaut()
    (footage / "photos").mkdir(parents=True)
    for name, rgb in (("astronaut.png", astronaut), ("coffee.png", skimage.data.coffee())):
        cv2.imwrite(str(footage / "photos" / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    write_video(footage / "day1" / "desk.mp4", drift(astronaut, 40, mirror=False, gain=1.0))
    write_video(footage / "day2" / "window.mp4", drift(astronaut, 30, mirror=True, gain=0.7))
    (footage / "day2" / "cut-short.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    labels = ["file,frame,AU01,AU02,AU04,AU06,AU12"]
    labels += [f"day1/desk.mp4,{f},0,0,0,1,1" for f in (0, 10, 20, 30)]
    labels.append("photos/astronaut.png,,0,0,0,1,1")
    (out / "labels.csv").write_text("\n".join(labels) + "\n")
    print(f"wrote {footage} and {out / 'labels.csv'}")


if __name__ == "__main__":
    main()
