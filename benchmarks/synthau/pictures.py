"""The AU swap grid and the AU interpolation strip of a D2CA checkpoint, on SynthAU faces.

    python benchmarks/synthau/pictures.py \\
        --model /tmp/d2ca-synthau/runs/wild_to_lab-a__d2ca__seed0__steps500/model \\
        --source /tmp/d2ca-synthau/data/wild --target /tmp/d2ca-synthau/data/lab-a --overwrite

writes ``docs/img/swap_grid.png`` and ``docs/img/interpolation.png``. Any checkpoint works
(``--model`` is a folder or a Hub id); faces come from the ``test`` split of two SynthAU
manifests and are resized to the checkpoint's input size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracles import load_images  # noqa: E402

from d2ca.data.manifest import Manifest, read_manifest  # noqa: E402
from d2ca.evaluation.plots import SWAP_HEADERS, compose, swap_grid  # noqa: E402
from d2ca.inference.pipeline import D2CA  # noqa: E402
from d2ca.io import atomic_path  # noqa: E402
from d2ca.models import to_uint8_images  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def pick(manifest: Manifest, n: int, seed: int) -> Manifest:
    """``n`` faces of different subjects, chosen reproducibly."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(manifest))
    chosen, seen = [], set()
    for i in order:
        subject = manifest.subjects[i]
        if subject not in seen:
            chosen.append(i)
            seen.add(subject)
        if len(chosen) == n:
            break
    mask = np.zeros(len(manifest), bool)
    mask[chosen] = True
    return manifest.select(mask)


def expression_pair(manifest: Manifest) -> tuple[int, int]:
    """A face with no active AU and, of another subject, the face with the most active AUs."""
    active = (manifest.labels == 1).sum(1)
    neutral = int(np.flatnonzero(active == active.min())[0])
    others = [i for i in range(len(manifest)) if manifest.subjects[i] != manifest.subjects[neutral]]
    return neutral, max(others, key=lambda i: active[i])


def save(image: Image.Image, path: Path, overwrite: bool) -> None:
    with atomic_path(path, overwrite=overwrite) as tmp:
        image.save(tmp, format="PNG")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="checkpoint folder or Hub id")
    parser.add_argument("--source", default="/tmp/d2ca-synthau/data/wild",
                        help="SynthAU folder of the source domain")  # fmt: skip
    parser.add_argument("--target", default="/tmp/d2ca-synthau/data/lab-a",
                        help="SynthAU folder of the target domain")  # fmt: skip
    parser.add_argument("--out-dir", default=str(REPO / "docs" / "img"))
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8, help="interpolation steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    # 1. the checkpoint, through the inference facade
    d2ca = D2CA.from_pretrained(args.model)
    cfg = d2ca.config
    source = read_manifest(args.source).split("test")
    target = read_manifest(args.target).split("test")
    out = Path(args.out_dir)

    # 2. the swap grid: Is, It, Is→t, It→s, Îs, Ît for faces of different subjects
    x_s = load_images(pick(source, args.rows, args.seed), cfg)
    x_t = load_images(pick(target, args.rows, args.seed + 1), cfg)
    grid = swap_grid(d2ca.model, x_s, x_t)
    save(compose(grid, SWAP_HEADERS), out / "swap_grid.png", args.overwrite)

    # 3. the interpolation strip (Fig. 2): AUs from face a to face b, decoded with It's domain
    a, b = expression_pair(source)
    pair = source.select(np.isin(np.arange(len(source)), [a, b]))  # keeps file order
    crops_s = to_uint8_images(load_images(pair, cfg), cfg)
    crop_a, crop_b = (crops_s[0], crops_s[1]) if a < b else (crops_s[1], crops_s[0])
    crops_t = to_uint8_images(x_t[:2], cfg)
    rows = []
    for crop_t in crops_t:
        strip = d2ca.interpolate(crop_a, crop_b, crop_t, steps=args.steps, aligned=True)
        rows.append(np.concatenate([crop_a[None], strip, crop_b[None], crop_t[None]]))
    ts = np.linspace(0, 1, args.steps)
    headers = ["Is (a)", *(f"t={t:.2f}" for t in ts), "Is (b)", "It"]
    save(compose(np.stack(rows), headers), out / "interpolation.png", args.overwrite)


if __name__ == "__main__":
    main()
