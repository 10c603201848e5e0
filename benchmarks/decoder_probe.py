"""Is a D2CA decoder's AU fidelity bounded by what its features hold, or by what the objective
trains it for? (issue 18, part 5)

The checkpoint's encoders are frozen and its decoder alone is trained to rebuild faces from
their own halves, ``G([E_au(x), E_dm^s(x)]) = x`` (L1, as Eq. 7, or L2), on the training split
of ``synthesis_quality.py``'s renders of the source domain (subjects no checkpoint saw). The
result is written as a checkpoint for ``synthesis_quality.py``, whose share of the AUs' change
made (``benchmarks/ideal_swaps.py``) then says how much of the AUs the frozen features let a
decoder render. ``--fresh`` starts the decoder from a new initialisation instead of the
checkpoint's, ``--decoder '{"dec_aux_au": true}'`` a new one of another structure (its
``dec_*`` config keys); ``--au-from`` takes ``E_au`` and ``C`` from another checkpoint of the
same network (an AU oracle, say), to compare what another encoder's AU features hold::

    python benchmarks/decoder_probe.py --model RUN/model --domain lab-b --out /tmp/probe/model
    python benchmarks/synthesis_quality.py --model /tmp/probe/model --domain lab-b --cross lab-a
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthesis_quality as sq  # noqa: E402
from ideal_swaps import factors, rerender  # noqa: E402

from d2ca.config import D2CAConfig  # noqa: E402
from d2ca.data.manifest import Manifest, read_manifest  # noqa: E402
from d2ca.hub import load_folder, save_pretrained  # noqa: E402
from d2ca.models import D2CAModel  # noqa: E402
from d2ca.models.networks import Decoder  # noqa: E402


def common_args(doc: str) -> argparse.ArgumentParser:
    """The arguments this script shares with ``au_encoder.py``: the renders, the budget."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--domain", required=True, help="the preset whose renders to train on")
    p.add_argument("--out", type=Path, required=True, help="the checkpoint folder to write")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)  # the paper's, with training's betas
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=Path("/tmp/d2ca-synthesis-quality"))
    p.add_argument("--tiny", action="store_true", help="synthesis_quality's tiny renders")
    p.add_argument("--threads", type=int, default=None)
    return p


def training_faces(args: argparse.Namespace, cfg: D2CAConfig) -> tuple[Manifest, torch.Tensor]:
    """The training split of ``synthesis_quality.py``'s renders of ``--domain`` and its faces
    (seeds and threads set from ``args``)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    size = sq.TINY if args.tiny else sq.FULL
    train = read_manifest(sq.render(args.work, args.domain, cfg.image_size, size)).split("train")
    return train, sq.load_images(train, cfg)


def fit(params: list[torch.nn.Parameter], loss_of: Callable[[torch.Tensor], torch.Tensor],
        n: int, args: argparse.Namespace) -> dict:  # fmt: skip
    """Adam (training's betas) on ``loss_of(indices)`` over ``args.steps`` random batches of
    the ``n`` faces; the budget and the first and last losses."""
    opt = torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.999))
    rng = np.random.default_rng(args.seed)
    t0, losses = time.time(), []
    for _ in range(args.steps):
        loss = loss_of(torch.from_numpy(rng.choice(n, size=min(args.batch, n), replace=False)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return {
        "domain": args.domain,
        "steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "train_faces": n,
        "loss_first_10": float(np.mean(losses[:10])),
        "loss_last_10": float(np.mean(losses[-10:])),
        "wall_s": round(time.time() - t0, 1),
    }


def save(model: D2CAModel, provenance: dict, out: Path) -> None:
    """``model`` in eval mode, with ``provenance`` in its config, written to ``out``."""
    model.eval()
    model.config = dataclasses.replace(model.config, provenance=provenance)
    save_pretrained(model, out)


def losses(figures: dict) -> str:
    """The first and last losses of :func:`fit`'s figures, for the terminal."""
    return f"{figures['loss_first_10']:.4f} -> {figures['loss_last_10']:.4f}"


def weighted_reconstruction_loss(weight: torch.Tensor) -> Callable[..., torch.Tensor]:
    """``reconstruction_loss`` (Eq. 7) with each pixel's error weighed by ``weight``, ``(S, S)``
    or a scalar (normalised by its mean: Eq. 7 when ``weight`` is constant)."""

    def loss(x: torch.Tensor, x_hat: torch.Tensor, norm: str = "l1") -> torch.Tensor:
        diff = x - x_hat
        per_pixel = diff.abs() if norm == "l1" else diff.pow(2)
        w = weight.to(per_pixel)
        return (w * per_pixel).mean() / w.mean()

    return loss


def au_map(train: Manifest, x: torch.Tensor, cfg: D2CAConfig) -> torch.Tensor:
    """Where the AUs act on the faces ``x`` of the SynthAU manifest ``train``, ``(S, S)`` with
    mean 1: the largest channel change when each face is rendered with the next face's AU
    intensities, averaged over the faces (a map only renders can give; real faces would need
    one from landmarks)."""
    faces = factors(train, range(len(train)))
    own = np.stack([f[1] for f in faces])
    change = (rerender(faces, np.roll(own, 1, axis=0), cfg) - x).abs().amax(1).mean(0)
    return change / change.mean()


def main(argv: Sequence[str] | None = None) -> dict:
    p = common_args(__doc__)
    p.add_argument("--model", type=Path, required=True, help="a D2CA checkpoint folder")
    p.add_argument("--loss", choices=("l1", "l2"), default="l1")
    p.add_argument("--fresh", action="store_true", help="a newly initialised decoder")
    p.add_argument("--decoder", type=json.loads, default=None,
                   help='a new decoder, these config overrides: {"dec_aux_au": true}')  # fmt: skip
    p.add_argument("--au-from", type=Path, default=None, help="E_au and C from this checkpoint")
    p.add_argument("--au-map", type=float, default=0.0,
                   help="W: each pixel's error weighed by 1 + W m, m: au_map")  # fmt: skip
    args = p.parse_args(argv)
    if args.decoder is not None and not (  # others would give a config its encoders don't have
        isinstance(args.decoder, dict) and all(k.startswith("dec_") for k in args.decoder)
    ):
        p.error('--decoder takes a JSON object of decoder keys (dec_*), as {"dec_aux_au": true}')
    model = load_folder(args.model, device="cpu").eval()
    if args.au_from is not None:  # the other encoder's features, and its classifier
        other = load_folder(args.au_from, device="cpu")
        model.e_au.load_state_dict(other.e_au.state_dict())
        model.classifier.load_state_dict(other.classifier.state_dict())
    cfg = model.config
    if args.decoder is not None:  # checked before the faces are encoded: a bad key ends here
        try:
            cfg = D2CAConfig.from_dict(cfg.to_dict() | args.decoder)
        except (TypeError, ValueError) as e:
            p.error(f"--decoder: {e}")
    train, x = training_faces(args, cfg)
    weight = 1 + args.au_map * au_map(train, x, cfg) if args.au_map else torch.ones(1)
    with torch.no_grad():  # the frozen halves, computed once
        a = torch.cat([model.encode_au(x[i : i + 64]) for i in range(0, len(x), 64)])
        d = torch.cat([model.encode_dm(x[i : i + 64], "source") for i in range(0, len(x), 64)])
    new = args.fresh or args.decoder is not None  # {}: a new decoder, no overrides
    if new:
        model.config, model.decoder = cfg, Decoder(cfg)
    decoder = model.decoder.train()

    rec_loss = weighted_reconstruction_loss(weight)  # Eq. 7 when au_map is 0

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        return rec_loss(x[idx], decoder(a[idx], d[idx]), args.loss)

    probe = {"from": str(args.model), "loss": args.loss, "fresh": new,
             "decoder": args.decoder,
             "au_from": None if args.au_from is None else str(args.au_from),
             "au_map": args.au_map}  # fmt: skip
    probe |= fit(list(decoder.parameters()), loss_of, len(x), args)
    save(model, dict(cfg.provenance) | {"decoder_probe": probe}, args.out)
    print(f"decoder trained alone, {args.steps} steps of {args.loss}: {losses(probe)}")
    return probe


if __name__ == "__main__":
    main()
