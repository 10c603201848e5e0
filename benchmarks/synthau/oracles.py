"""Oracles that turn the paper's qualitative swap figures into numbers.

The paper shows ``It→s = G([E_au(Is), E_dm^t(It)])`` only as pictures: the face should carry
the source face's AUs while keeping the target face's domain and identity. On SynthAU both
are measurable, because every rendered face has AU labels and a subject id:

- AU transfer: an AU classifier trained on labelled target-domain renders (a long
  target-only run, the *AU oracle*) reads ``It→s``; its F1 against the labels ``z_s`` of the
  AU source face says how much of the source face's expression reached the target domain.
- Identity / domain preservation: an *identity oracle* trained on target-domain renders of
  the test subjects (gallery frames) names the subject of ``It→s``; top-1 accuracy against
  the subject of ``It`` (a probe frame, never seen by the oracle) says whether the face kept
  its identity and domain.
- Image quality: the Fréchet distance of ``It→s`` to real target renders in the feature
  space of :mod:`d2ca.evaluation.fid` (Table IX analogue).

Everything here is sized for a few thousand faces held in CPU memory; the networks run on
their own device (the grid's: the CPU, or a GPU at the paper's scale), a batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from d2ca.config import D2CAConfig
from d2ca.data.dataset import ManifestDataset
from d2ca.data.manifest import Manifest
from d2ca.evaluation import f1_per_au
from d2ca.models import D2CAModel, Encoder


def load_images(manifest: Manifest, config: D2CAConfig) -> torch.Tensor:
    """All faces of ``manifest`` as one normalised tensor ``(n, 3, S, S)`` in [-1, 1].

    Example:
        >>> x = load_images(read_manifest("data/wild").split("test"), cfg)  # doctest: +SKIP
    """
    data = ManifestDataset(manifest, config)
    if not len(data):
        return torch.zeros(0, config.in_channels, config.image_size, config.image_size)
    return torch.stack([data[i]["image"] for i in range(len(data))])


def gallery_probe_split(manifest: Manifest) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks splitting each subject's frames alternately into gallery and probe.

    The identity oracle trains on gallery frames; ``It`` faces are drawn from probe frames.

    Example:
        >>> gallery, probe = gallery_probe_split(manifest)  # doctest: +SKIP
    """
    gallery = np.zeros(len(manifest), dtype=bool)
    seen: dict[str, int] = {}
    for i, subject in enumerate(manifest.subjects):
        gallery[i] = seen.get(subject, 0) % 2 == 0
        seen[subject] = seen.get(subject, 0) + 1
    return gallery, ~gallery


class IdentityOracle(nn.Module):
    """Subject classifier: the D2CA encoder structure, global pooling and a linear layer.

    ``(B, 3, S, S) -> (B, num_subjects)`` logits.
    """

    def __init__(self, config: D2CAConfig, num_subjects: int) -> None:
        super().__init__()
        self.encoder = Encoder(config)
        self.head = nn.Linear(config.enc_widths[-1], num_subjects)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=(2, 3)))


def train_identity_oracle(
    images: torch.Tensor,
    subjects: Sequence[int],
    config: D2CAConfig,
    *,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> IdentityOracle:
    """Fit an :class:`IdentityOracle` to ``images`` ``(n,3,S,S)`` with subject indices ``(n,)``
    on ``device`` (batches move there; ``images`` may stay on the CPU).

    Light augmentation (horizontal shifts of up to 4 pixels, brightness jitter) keeps it from
    memorising pixels of its few gallery frames.

    Example:
        >>> oracle = train_identity_oracle(x, ids, cfg, steps=10)  # doctest: +SKIP
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    y = torch.as_tensor(np.asarray(subjects), dtype=torch.long)
    oracle = IdentityOracle(config, int(y.max()) + 1).to(device)
    opt = torch.optim.Adam(oracle.parameters(), lr=lr)
    oracle.train()
    for _ in range(steps):
        idx = torch.randint(len(images), (batch_size,), generator=gen)
        x = _augment(images[idx], gen).to(device)
        loss = F.cross_entropy(oracle(x), y[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return oracle.eval()


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    shift = int(torch.randint(-4, 5, (1,), generator=gen))
    gain = 1.0 + 0.1 * (torch.rand(x.shape[0], 1, 1, 1, generator=gen) - 0.5)
    return (torch.roll(x, shift, dims=3) * gain).clamp(-1, 1)


@torch.no_grad()
def batched(fn, module: nn.Module, *tensors: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """``fn`` applied to aligned slices of ``tensors`` and concatenated on the CPU (bounded
    memory); the slices move to the device of ``module``, the network ``fn`` runs."""
    device = next(module.parameters()).device
    n = len(tensors[0])
    chunks = [
        fn(*(t[i : i + batch_size].to(device) for t in tensors)).cpu()
        for i in range(0, n, batch_size)
    ]
    return torch.cat(chunks)


@torch.no_grad()
def swap_ts(model: D2CAModel, x_s: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """``It→s = G([E_au(Is), E_dm^t(It)])`` (Eq. 3) for aligned batches of faces."""
    model.eval()

    def ts(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model.decode(model.encode_au(s), model.encode_dm(t, "target"))

    return batched(ts, model, x_s, x_t)


@torch.no_grad()
def au_decisions(au_oracle: D2CAModel, images: torch.Tensor, au_names: Sequence[str]) -> np.ndarray:
    """``au_oracle``'s ``(n, A)`` boolean decisions on ``images`` for ``au_names``, at its
    thresholds."""
    au_oracle.eval()
    logits = batched(au_oracle, au_oracle, images)
    cols = [au_oracle.config.au_names.index(a) for a in au_names]
    thr = np.asarray(au_oracle.config.thresholds)[cols]
    return torch.sigmoid(logits).numpy()[:, cols] >= thr


def f1_summary(pred: np.ndarray, labels: np.ndarray, au_names: Sequence[str]) -> dict:
    """``{"f1": {AU: F1}, "avg_f1": mean}`` of decisions ``pred`` against ``labels``."""
    f1 = f1_per_au(pred, labels)
    return {"f1": dict(zip(au_names, f1.tolist(), strict=True)), "avg_f1": float(f1.mean())}


def au_f1(
    au_oracle: D2CAModel, images: torch.Tensor, labels: np.ndarray, au_names: Sequence[str]
) -> dict:
    """Per-AU F1 of ``au_oracle``'s decisions on ``images`` against ``labels`` ``(n, A)``.

    Returns ``{"f1": {AU: F1}, "avg_f1": mean}``.
    """
    return f1_summary(au_decisions(au_oracle, images, au_names), labels, au_names)


@torch.no_grad()
def identity_top1(oracle: IdentityOracle, images: torch.Tensor, subjects: Sequence[int]) -> float:
    """Share of ``images`` whose top-1 oracle subject is the given subject index."""
    oracle.eval()
    pred = batched(oracle, oracle, images).argmax(1).numpy()
    return float((pred == np.asarray(subjects)).mean())
