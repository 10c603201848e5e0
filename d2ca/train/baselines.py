"""Baselines trained in the same harness: source-only, DANN and target-only.

All three train the AU path ``C(E_au(x))`` of a :class:`~d2ca.models.D2CAModel` (the other
networks stay at their initialisation), so their checkpoints load and evaluate like D2CA's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from d2ca import losses
from d2ca.config import D2CAConfig
from d2ca.models import D2CAModel


def supervised_loss(
    model: D2CAModel, x: torch.Tensor, z: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Source-only / target-only: ``BCE(C(E_au(x)), z)`` (Eq. 4 alone), -1 labels masked.

    Returns:
        ``(loss, terms, features)``; ``features`` holds ``a_s`` and ``logits_s`` of the batch
        for the trainer's diagnostics.
    """
    a = model.encode_au(x)
    logits = model.classify(a)
    loss = losses.au_loss(logits, z)
    return loss, {"au": loss.detach(), "total": loss.detach()}, {"a_s": a, "logits_s": logits}


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:  # noqa: ANN001
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float) -> torch.Tensor:
    """Identity forward, ``-coeff * grad`` backward (Ganin and Lempitsky, 2015)."""
    return _GradientReversal.apply(x, coeff)


def grl_coefficient(progress: float, gamma: float = 10.0) -> float:
    """Ganin et al.'s schedule ``2 / (1 + exp(-gamma p)) - 1`` for training progress ``p``.

    >>> grl_coefficient(0.0), round(grl_coefficient(1.0), 4)
    (0.0, 0.9999)
    """
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class DomainClassifier(nn.Module):
    """DANN's domain head on globally pooled AU features: ``(B, C, f, f) -> (B,)`` logits."""

    def __init__(self, config: D2CAConfig, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(config.au_channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 1),
        )

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.net(a.mean(dim=(2, 3))).squeeze(1)


def dann_loss(
    model: D2CAModel,
    head: DomainClassifier,
    x_s: torch.Tensor,
    z_s: torch.Tensor,
    x_t: torch.Tensor,
    coeff: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """DANN: AU loss on the source + domain loss through a gradient reversal layer.

    The domain head learns source (1) vs target (0) from ``E_au`` features; the reversed
    gradient (scaled by ``coeff``, see :func:`grl_coefficient`) makes ``E_au`` domain-blind.
    """
    a_s, a_t = model.encode_au(x_s), model.encode_au(x_t)
    logits_s = model.classify(a_s)
    au = losses.au_loss(logits_s, z_s)
    logits = head(grad_reverse(torch.cat([a_s, a_t]), coeff))
    domain = torch.cat([torch.ones(len(x_s)), torch.zeros(len(x_t))]).to(logits)
    dom = nn.functional.binary_cross_entropy_with_logits(logits, domain)
    loss = au + dom
    terms = {"au": au.detach(), "domain": dom.detach(), "total": loss.detach()}
    return loss, terms, {"a_s": a_s, "a_t": a_t, "logits_s": logits_s}
