"""The terms of the D2CA objective, one pure function each (paper Eq. 1-12).

Notation follows the paper: ``a`` AU features, ``d`` domain features, ``x_s`` / ``x_t``
source / target faces, ``x_st = G([a_t, d_s])``, ``x_ts = G([a_s, d_t])``. Weights are not
applied here: :mod:`d2ca.train.objective` is the one place where they meet.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def orthogonality_loss(a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Eq. 1, soft orthogonality of AU and domain features of one domain: ``E|cos(a, d)|``.

    The paper writes ``E[cos(a, d)]``, whose minimum is at -1 (anti-parallel), not at
    orthogonality; the absolute value puts the minimum at 0 (method.md, marked choice).

    Args:
        a: ``(B, ...)`` AU features. d: ``(B, ...)`` domain features of the same size.
    """
    return F.cosine_similarity(a.flatten(1), d.flatten(1), dim=1).abs().mean()


def batch_standardise(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Each feature element relative to the batch: ``(x - mean) / std`` over faces (dim 0).

    Not a paper term: the optional input of Eq. 1, 5 and 6 (``D2CAConfig.feature_norm``).
    On standardised features ``L_rep`` is ``2 (1 - correlation)`` per element: shrinking the
    features' variation across faces no longer lowers it (until the variance nears ``eps``,
    far below the features' own), so a constant encoder is not its minimum; and ``L_ort``
    measures the angle between the face-to-face variations of ``a`` and ``d``, not between
    their mean patterns, which a face-independent pattern could make orthogonal.

    Args:
        x: ``(B, ...)`` with ``B >= 2``.
    """
    if x.shape[0] < 2:
        raise ValueError("batch_standardise needs at least two faces in the batch")
    mean = x.mean(dim=0, keepdim=True)
    return (x - mean) / (x.var(dim=0, keepdim=True, unbiased=False) + eps).sqrt()


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` holds; 0, still attached to the graph, where it holds
    nowhere. Weighted, not indexed: ``values[mask]`` would wait for the GPU every step."""
    weight = mask.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp(min=1)


def au_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 4, multi-label sigmoid cross-entropy, mean over known labels (-1 is masked out).

    Used for ``L_au^s = BCE(C(a_s), z_s)`` and ``L_au^t = BCE(C(E_au(x_ts)), z_s)``.

    Args:
        logits: ``(B, A)``. labels: ``(B, A)`` in {1, 0, -1}.
    """
    losses = F.binary_cross_entropy_with_logits(
        logits, labels.clamp(min=0).float(), reduction="none"
    )
    return _masked_mean(losses, labels >= 0)


def feature_consistency_loss(
    a: torch.Tensor, a_cycled: torch.Tensor, d: torch.Tensor, d_cycled: torch.Tensor
) -> torch.Tensor:
    """Eq. 5 / Eq. 6: ``E[||a - a'||² + ||d - d'||²]`` with features re-encoded from a swap.

    Squared errors are averaged over elements (a scale-free ``E``). ``L_rep^s`` passes
    ``(a_t, a_st, d_s, d_st)``; ``L_rep^t`` passes ``(a_s, a_ts, d_t, d_ts)``.
    """
    return F.mse_loss(a_cycled, a) + F.mse_loss(d_cycled, d)


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor, norm: str = "l1") -> torch.Tensor:
    """Eq. 7, one side of the cyclic reconstruction: ``E||x - x_hat||_1`` (mean per pixel);
    ``norm="l2"``: the mean squared error instead (``D2CAConfig.rec_loss``, not the paper's)."""
    diff = x - x_hat
    return (diff.abs() if norm == "l1" else diff.pow(2)).mean()


def adversarial_d_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 8, discriminator side: ``-E[log D(x)] - E[log(1 - D(x_fake))]``.

    Args:
        real, fake: per-scale PatchGAN logit maps; the loss is averaged over scales.
    """
    terms = [
        F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
        + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
        for r, f in zip(real, fake, strict=True)
    ]
    return torch.stack(terms).mean()


def adversarial_g_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 8, encoder/decoder side, in the non-saturating form ``-E[log D(x_fake)]``.

    Minimising ``log(1 - D(x_fake))`` as written in Eq. 8 has vanishing gradients early in
    training (Goodfellow et al., 2014); the non-saturating form has the same fixed point.
    """
    terms = [F.binary_cross_entropy_with_logits(f, torch.ones_like(f)) for f in fake]
    return torch.stack(terms).mean()


def image_contrastive_loss(z: torch.Tensor, tau: float = 0.07) -> torch.Tensor:
    """Eq. 10, image-level contrastive loss (ICL): InfoNCE over the 8N images of a step.

    Args:
        z: ``(8, N, D)`` L2-normalised embeddings ``P([a_x, d_x])`` in the order
            ``x_s, x_t, x_st, x_ts, x_s_hat, x_t_hat, x_st_hat, x_ts_hat``; group ``g`` and
            group ``g + 4`` form the four positive pairs ``(x_s, x_s_hat)``, ``(x_t, x_t_hat)``,
            ``(x_st, x_st_hat)``, ``(x_ts, x_ts_hat)``, sample by sample.
        tau: temperature.

    Returns:
        ``-log(exp(q.k+/tau) / sum_{k != q} exp(q.k/tau))`` averaged over all 8N anchors;
        every other image of the step is a negative.
    """
    if z.ndim != 3 or z.shape[0] != 8:
        raise ValueError(f"expected embeddings of shape (8, N, D), got {tuple(z.shape)}")
    n = z.shape[1]
    flat = z.reshape(8 * n, -1)
    logits = flat @ flat.T / tau
    logits = logits.masked_fill(torch.eye(8 * n, dtype=torch.bool, device=z.device), float("-inf"))
    index = torch.arange(8 * n, device=z.device)
    positive = (index + 4 * n) % (8 * n)  # group g <-> group g + 4, same sample
    return F.cross_entropy(logits, positive)


def feature_contrastive_loss(
    phi: torch.Tensor, subjects: torch.Tensor, alpha: float = 0.1
) -> torch.Tensor:
    """Eq. 11, feature-level contrastive loss (FCL) on source domain features.

    ``1/|S| sum_{(i,j,k) in S} max(0, alpha - cos(phi_i, phi_j) + cos(phi_i, phi_k))`` over
    all triplets with ``id[i] == id[j]`` (``i != j``) and ``id[i] != id[k]``.

    Args:
        phi: ``(N, ...)`` domain features ``E_dm^s(x_s)``. subjects: ``(N,)`` subject ids.
        alpha: margin.

    Returns:
        The mean hinge; zero (still attached to the graph) when the batch has no triplet.
    """
    flat = F.normalize(phi.flatten(1), dim=1)
    cos = flat @ flat.T  # (N, N)
    same = subjects[:, None] == subjects[None, :]
    eye = torch.eye(len(subjects), dtype=torch.bool, device=phi.device)
    pos = same & ~eye  # (i, j)
    neg = ~same  # (i, k)
    valid = pos[:, :, None] & neg[:, None, :]  # (i, j, k)
    hinge = F.relu(alpha - cos[:, :, None] + cos[:, None, :])
    return _masked_mean(hinge, valid)
