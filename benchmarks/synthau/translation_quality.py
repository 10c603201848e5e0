"""The translated faces ``It→s`` of given D2CA checkpoints of one SynthAU pair, scored by the
grid's oracles (AU transfer F1 against the AU donor's labels, identity top-1, FID*) beside
what the same oracles score on the untranslated faces (``run_table.references``).

For checkpoints outside the grid's run JSONs: forks, or a run at another step. The oracles
are ``run_table.py``'s, trained under the scale's work folder when missing; a run JSON's
``quality`` was scored by the oracles of its own grid run, so compare a checkpoint with the
references in the same output file.

Run:  python benchmarks/synthau/translation_quality.py --pair wild:lab-a --out FILE.json \\
          RUN/model [RUN/model ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from run_table import oracle_for, pair_aus, quality, references, render_data, write_json
from scales import SCALES

from d2ca.data.manifest import read_manifest
from d2ca.devices import resolve_device
from d2ca.hub import load_folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="checkpoint folders of the pair")
    parser.add_argument("--pair", required=True, help="SOURCE:TARGET presets, e.g. wild:lab-a")
    parser.add_argument("--scale", choices=sorted(SCALES), default="cpu")
    parser.add_argument("--out", type=Path, required=True, help="the JSON written")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    args = parser.parse_args(argv)
    if args.pair.count(":") != 1:
        parser.error(f"--pair {args.pair!r}: expected SOURCE:TARGET, e.g. wild:lab-a")
    if args.out.exists() and not args.overwrite:
        parser.error(f"{args.out} exists (pass --overwrite to replace it)")
    scale = SCALES[args.scale]
    source, target = args.pair.split(":")
    data = render_data(scale, {source, target})
    oracles = oracle_for(scale, data, target)
    src, tgt = read_manifest(data[source]), read_manifest(data[target])
    aus = pair_aus(src, tgt)
    device = resolve_device(scale.device)
    scored = {}
    for folder in args.models:
        scored[str(folder)] = quality(load_folder(folder, device=device), src, tgt, aus, oracles)
        print(folder, f"AU transfer F1 {100 * scored[str(folder)]['au_transfer']['avg_f1']:.1f}")
    write_json(args.out, {"reference": references(scale, data, source, target, oracles),
                          "models": scored})  # fmt: skip


if __name__ == "__main__":
    main()
