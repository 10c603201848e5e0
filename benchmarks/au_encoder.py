"""An AU encoder trained alone on SynthAU renders, on the AU labels or on the AU intensities,
written as a checkpoint for ``decoder_probe.py --au-from`` (issue 18, part 5): do features
trained on intensities hold more of how the AUs change a face than features trained on
labels?

``E_au`` and ``C`` of a new network shaped as ``--like``'s (``C`` gives one output per AU) are
trained on the training split of ``synthesis_quality.py``'s renders of ``--domain``, with the
same loop and budget either way: ``--target labels`` minimises ``L_au`` (Eq. 4's sigmoid
cross-entropy on present / absent), ``--target intensity`` the squared error between
``5 sigmoid(C(a))`` and the intensities (0-5, from ``d2ca.data.synth.frame_factors``)::

    python benchmarks/au_encoder.py --like RUN/model --domain lab-b --target intensity --out ENC
    python benchmarks/decoder_probe.py --model RUN/model --domain lab-b --fresh --au-from ENC ...
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decoder_probe import common_args, fit, losses, save, training_faces  # noqa: E402
from ideal_swaps import factors  # noqa: E402

from d2ca.hub import load_folder  # noqa: E402
from d2ca.losses import au_loss  # noqa: E402
from d2ca.models import D2CAModel  # noqa: E402

MAX_INTENSITY = 5.0


def main(argv: Sequence[str] | None = None) -> dict:
    p = common_args(__doc__)
    p.add_argument("--like", type=Path, required=True, help="a checkpoint whose network to use")
    p.add_argument("--target", choices=("labels", "intensity"), required=True)
    args = p.parse_args(argv)
    cfg = load_folder(args.like, device="cpu").config
    train, x = training_faces(args, cfg)
    model = D2CAModel(dataclasses.replace(cfg, provenance={}))
    if args.target == "labels":
        y = torch.from_numpy(train.with_aus(cfg.au_names).labels.astype(np.float32))
    else:
        y = torch.from_numpy(np.stack([f[1] for f in factors(train, range(len(train)))])).float()
    nets = [model.e_au.train(), model.classifier.train()]

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        logits = model.classify(model.encode_au(x[idx]))
        if args.target == "labels":
            return au_loss(logits, y[idx])
        return (MAX_INTENSITY * torch.sigmoid(logits) - y[idx]).pow(2).mean()

    trained = {"like": str(args.like), "target": args.target}
    trained |= fit([q for net in nets for q in net.parameters()], loss_of, len(x), args)
    save(model, {"au_encoder": trained}, args.out)
    print(f"E_au and C trained on {args.target}, {args.steps} steps: {losses(trained)}")
    return trained


if __name__ == "__main__":
    main()
