"""Does weighing ``L_rec`` (Eq. 7) where the AUs act lift D2CA's swaps? (issue 18, part 5)

An exploratory fork, not a library option: ``d2ca train`` runs with each pixel's error in
``L_rec`` weighed by ``1 + W m``, ``m`` the map of where the AUs change SynthAU's renders
(``decoder_probe.au_map``, mean 1; a map only renders give, the best a weighting could have).
Everything after ``--`` goes to ``d2ca``; resume a copy of a finished run to fork it::

    cp -r RUN /tmp/fork
    python benchmarks/rec_au_weighted.py --weight 10 --like RUN/model --domain lab-b -- \\
        train --out /tmp/fork --resume --steps 1000 --threads 1 --no-progress

Measured (docs/synthesis.md, "Against the ideal swaps"): it does not, so the library
has no such option.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import decoder_probe as probe  # noqa: E402

import d2ca.losses  # noqa: E402
from d2ca.cli import app  # noqa: E402
from d2ca.hub import load_folder  # noqa: E402


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weight", type=float, required=True, help="W of 1 + W m")
    p.add_argument("--like", type=Path, required=True, help="a checkpoint of the run's network")
    p.add_argument("--domain", required=True, help="the source preset, whose renders give m")
    p.add_argument("--work", type=Path, default=Path("/tmp/d2ca-synthesis-quality"))
    p.add_argument("--tiny", action="store_true", help="synthesis_quality's tiny renders")
    args = p.parse_args(argv[:cut])
    cfg = load_folder(args.like, device="cpu").config
    args.threads, args.seed = None, 0  # training_faces' other arguments
    train, x = probe.training_faces(args, cfg)
    plain = d2ca.losses.reconstruction_loss
    weight = 1 + args.weight * probe.au_map(train, x, cfg)
    d2ca.losses.reconstruction_loss = probe.weighted_reconstruction_loss(weight)
    try:
        app(argv[cut + 1 :], prog_name="d2ca")  # exits as d2ca does
    finally:  # the library as it was
        d2ca.losses.reconstruction_loss = plain


if __name__ == "__main__":
    main()
