"""Swap action units between two faces and interpolate between them (the paper's Fig. 2).

``examples/face.png`` gives the AUs; the target is the same photograph mirrored and tinted
unless you pass your own images.

    python examples/swap_and_interpolate.py                      # writes into ./d2ca_demo/
    python examples/swap_and_interpolate.py smile.jpg me.jpg --model path/or/org-name
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from d2ca import D2CA

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description="AU swap and interpolation.")
    parser.add_argument("au_source", nargs="?", type=Path, default=HERE / "face.png")
    parser.add_argument("target", nargs="?", type=Path)
    parser.add_argument("--model", help="checkpoint folder or Hub repo id (default: shipped)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("d2ca_demo"))
    args = parser.parse_args()

    source = np.asarray(Image.open(args.au_source).convert("RGB"))
    if args.target is None:  # a second "person": mirrored and warmer
        target = np.ascontiguousarray(source[:, ::-1]).astype(np.float32)
        target = np.clip(target * [1.1, 1.0, 0.85], 0, 255).astype(np.uint8)
    else:
        target = np.asarray(Image.open(args.target).convert("RGB"))

    model = D2CA.from_pretrained(args.model)
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. I_t->s = G([E_au(I_s), E_dm^t(I_t)]), pasted back into the target photograph
    swap = model.swap_aus(source, target)
    Image.fromarray(swap.crop).save(args.out / "swap_crop.png")
    Image.fromarray(swap.image).save(args.out / "swap.png")

    # 2. AU features moving from the target's own to the source's, target's domain kept
    faces = model.interpolate(target, source, target, steps=args.steps)
    Image.fromarray(np.concatenate(list(faces), axis=1)).save(args.out / "interpolation.png")

    # 3. the round trip G([E_au(x), E_dm(x)]) of the target, for comparison
    Image.fromarray(model.reconstruct(target)[0]).save(args.out / "reconstruction.png")
    print(f"wrote swap.png, swap_crop.png, interpolation.png, reconstruction.png in {args.out}")


if __name__ == "__main__":
    main()
