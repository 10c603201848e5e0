"""The D2CA objective (Eq. 9 and 12): composes the pure terms of :mod:`d2ca.losses`.

This is the one place where the loss weights of :class:`~d2ca.config.D2CAConfig` meet.
Both functions return ``(loss, terms)`` with ``terms`` a dict of detached scalars named
after the paper, in the style of StarGAN v2's ``compute_g_loss`` / ``compute_d_loss``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from d2ca import losses
from d2ca.config import D2CAConfig
from d2ca.models import D2CAModel, frozen_norm_stats, stacked


@dataclass
class Swaps:
    """The synthesised faces of a step (kept for the discriminator update) and the features
    of the real faces (read by the trainer's diagnostics)."""

    x_st: torch.Tensor  # G([a_t, d_s]): source domain, the target face's AUs (Eq. 2)
    x_ts: torch.Tensor  # G([a_s, d_t]): target domain, the source face's AUs (Eq. 3)
    x_s_hat: torch.Tensor  # cyclic reconstructions (Eq. 7)
    x_t_hat: torch.Tensor
    a_s: torch.Tensor  # E_au(x_s), E_dm^s(x_s), E_au(x_t), E_dm^t(x_t)
    d_s: torch.Tensor
    a_t: torch.Tensor
    d_t: torch.Tensor
    logits_s: torch.Tensor  # C(a_s)


def _passes(
    net: Callable[..., torch.Tensor], module: nn.Module, *inputs: list[torch.Tensor], n: int = 0
) -> torch.Tensor:
    """``net`` over each position of the ``inputs`` lists (argument by argument) as one
    stacked pass (:func:`~d2ca.models.layers.stacked`); the outputs concatenated in the
    lists' order. An input already stacked is one tensor in a list, with ``n`` passes."""
    passes = n or len(inputs[0])
    with stacked(passes, module):
        return net(*(x[0] if len(x) == 1 else torch.cat(x) for x in inputs))


def weighted_terms(
    t: dict[str, torch.Tensor], config: D2CAConfig, au_t_weight: float | torch.Tensor = 1.0
) -> dict[str, torch.Tensor]:
    """The summands of Eq. 12, each with its weight: ``au_s``, ``rep``, ``rec``, ``adv``,
    ``ort`` (Eq. 9) and ``au_t``, ``icl``, ``fcl`` when enabled. ``L_tot`` is their sum.

    Args:
        t: unweighted terms as computed by :func:`generator_loss` (``rep_s``, ``rep_t``...).
        au_t_weight: extra multiplier of ``L_au^t`` (1 = the paper).
    """
    out = {
        "au_s": config.au_weight * t["au_s"],
        "rep": config.gamma1 * (t["rep_s"] + t["rep_t"]),
        "rec": config.gamma2 * t["rec"],
        "adv": config.gamma3 * (t["adv_s"] + t["adv_t"]),
        "ort": config.gamma4 * t["ort"],
    }
    if "au_t" in t:
        out["au_t"] = au_t_weight * config.au_weight * t["au_t"]
    out.update({k: config.lambda_ * t[k] for k in ("icl", "fcl") if k in t})
    return out


def rampup(step: int, length: int) -> float:
    """Sigmoid-shaped ramp from 0 to 1 over ``length`` steps, ``exp(-5 (1 - step/length)^2)``
    (Laine & Aila, 2017); 1 when ``length`` is 0 or the ramp is over."""
    if step >= length:
        return 1.0
    return math.exp(-5.0 * (1.0 - step / length) ** 2)


def _scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``scale`` in the backward pass
    (0: none flows back)."""
    if scale == 0:
        return x.detach()
    return x if scale == 1 else x * scale + x.detach() * (1 - scale)


def _grad_scaled(module: nn.Module, scale: float) -> Callable[..., torch.Tensor]:
    """``module`` whose parameters' gradients are multiplied by ``scale`` (0: their gradients
    are not computed at all); the gradient with respect to its input is unchanged (it flows
    on to G and the encoders that made it)."""
    if scale == 1:
        return module
    params = {k: _scale_grad(v, scale) for k, v in module.named_parameters()}
    return lambda *x: torch.func.functional_call(module, params, x, strict=False)


def generator_loss(
    model: D2CAModel,
    x_s: torch.Tensor,
    z_s: torch.Tensor,
    subjects_s: torch.Tensor,
    x_t: torch.Tensor,
    config: D2CAConfig,
    *,
    keep_graph: bool = False,
    au_t_weight: float | torch.Tensor = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], Swaps]:
    """``L_tot`` (Eq. 12) for the encoders, decoder, classifier and projection head.

    Args:
        x_s: ``(N, 3, S, S)`` labelled source faces. z_s: ``(N, A)`` labels in {1, 0, -1}.
        subjects_s: ``(N,)`` subject ids of the source faces (for FCL, Eq. 11).
        x_t: ``(N, 3, S, S)`` unlabelled target faces.
        config: weights (``gamma1..4``, ``lambda_``), ``tau``, ``alpha`` and the ablation
            switches ``use_icl`` / ``use_fcl``.
        keep_graph: return the terms attached to the graph (for per-term gradients).
        au_t_weight: multiplier of ``L_au^t`` (the trainer's ramp-up, :func:`rampup`); a
            0-dim device tensor in a captured step.
    """
    # E_au as the auxiliary terms see it: its parameters' gradient scaled by aux_grad_e_au
    # (1 = the paper: one E_au for every term); L_au^s and L_au^t always train it in full.
    scale = config.aux_grad_e_au
    e_au = _grad_scaled(model.e_au, scale)
    # Passes of one network over several inputs run as one stacked pass (_passes): the same
    # values, in the order written in the comments, at a fraction of the kernel launches.
    # Stage 1: universal feature purification (Eq. 1-4)
    a_s_au = model.encode_au(x_s)  # read by C for L_au^s
    a_s, d_s = _scale_grad(a_s_au, scale), model.encode_dm(x_s, "source")
    a_t, d_t = e_au(x_t), model.encode_dm(x_t, "target")
    # x_st = G([a_t, d_s]) (Eq. 2), x_ts = G([a_s, d_t]) (Eq. 3)
    x_sw = _passes(model.decode, model.decoder, [a_t, a_s], [d_s, d_t])
    x_st, x_ts = x_sw.chunk(2)
    # Stages 2-3: cyclical feature alignment, re-encode the swapped faces. With
    # norm_stats="real" the batch norms keep the running statistics of the real faces only.
    real_stats = frozen_norm_stats(model) if config.norm_stats == "real" else nullcontext()
    with real_stats:
        a_sw = _passes(e_au, model.e_au, [x_sw], n=2)  # E_au(x_st), E_au(x_ts)
        a_st, a_ts = a_sw.chunk(2)
        d_st, d_ts = model.encode_dm(x_st, "source"), model.encode_dm(x_ts, "target")
        # x_s_hat = G([a_ts, d_st]), x_t_hat = G([a_st, d_ts]) (Eq. 7), and for ICL the
        # cyclic images of Eq. 10, x_st_hat = G([a_st, d_st]) and x_ts_hat = G([a_ts, d_ts])
        a_cyc, d_cyc = [a_ts, a_st], [d_st, d_ts]
        if config.use_icl:
            a_cyc, d_cyc = a_cyc + [a_st, a_ts], d_cyc + [d_st, d_ts]
        x_hat = _passes(model.decode, model.decoder, a_cyc, d_cyc)
        x_s_hat, x_t_hat = x_hat.chunk(len(a_cyc))[:2]
        if config.use_au_t:  # x_ts carries z_s (Eq. 4): re-encoded with E_au's full gradient
            a_ts_au = a_ts if scale == 1 else model.encode_au(x_ts)
            logits_ts = (model.classifier if config.au_t_trains_classifier
                         else _grad_scaled(model.classifier, 0))(a_ts_au)  # fmt: skip
        if config.use_icl:  # the 8N images of Eq. 10: four real and swapped, four cyclic
            a_hat = _passes(e_au, model.e_au, [x_hat], n=4)  # in the order of x_hat
            _, _, x_st_hat, x_ts_hat = x_hat.chunk(4)
            d_hs = _passes(model.e_dm_s, model.e_dm_s, [x_s_hat, x_st_hat]).chunk(2)
            d_ht = _passes(model.e_dm_t, model.e_dm_t, [x_t_hat, x_ts_hat]).chunk(2)
            a_all = torch.cat([a_s, a_t, a_sw, a_hat])
            d_all = torch.cat([d_s, d_t, d_st, d_ts, d_hs[0], d_ht[0], d_hs[1], d_ht[1]])

    logits_s = model.classify(a_s_au)
    f = losses.batch_standardise if config.feature_norm == "batch" else (lambda v: v)
    t: dict[str, torch.Tensor] = {}
    t["ort"] = losses.orthogonality_loss(f(a_s), f(d_s)) + losses.orthogonality_loss(f(a_t), f(d_t))
    t["au_s"] = losses.au_loss(logits_s, z_s)
    if config.use_au_t:
        t["au_t"] = losses.au_loss(logits_ts, z_s)
    t["rep_s"] = losses.feature_consistency_loss(f(a_t), f(a_st), f(d_s), f(d_st))  # Eq. 5
    t["rep_t"] = losses.feature_consistency_loss(f(a_s), f(a_ts), f(d_t), f(d_ts))  # Eq. 6
    norm = config.rec_loss
    t["rec"] = losses.reconstruction_loss(x_s, x_s_hat, norm) + losses.reconstruction_loss(
        x_t, x_t_hat, norm
    )
    t["adv_s"] = losses.adversarial_g_loss(model.disc_s(x_st))  # Eq. 8
    t["adv_t"] = losses.adversarial_g_loss(model.disc_t(x_ts))
    if config.use_icl:  # Eq. 10
        # one pass of P over the 8N images (per-sample layers: the same as eight passes)
        z = model.proj(a_all, d_all).unflatten(0, (8, -1))
        t["icl"] = losses.image_contrastive_loss(z, config.tau)
    if config.use_fcl:  # Eq. 11
        t["fcl"] = losses.feature_contrastive_loss(d_s, subjects_s, config.alpha)
    parts = weighted_terms(t, config, au_t_weight)
    t["deco"] = sum(v for k, v in parts.items() if k not in ("icl", "fcl"))  # Eq. 9
    t["total"] = total = sum(parts.values())  # Eq. 12
    terms = t if keep_graph else {k: v.detach() for k, v in t.items()}
    return total, terms, Swaps(x_st, x_ts, x_s_hat, x_t_hat, a_s_au, d_s, a_t, d_t, logits_s)


def discriminator_loss(
    model: D2CAModel, x_s: torch.Tensor, x_t: torch.Tensor, swaps: Swaps
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 8, discriminator side: D_s tells ``x_s`` from ``x_st``, D_t ``x_t`` from ``x_ts``.

    The synthesised faces are detached: this step changes only the discriminators. Real and
    synthesised faces go through each discriminator in one pass (its instance norms are per
    sample, so this equals two passes).
    """
    d_s = losses.adversarial_d_loss(*_real_fake(model.disc_s, x_s, swaps.x_st.detach()))
    d_t = losses.adversarial_d_loss(*_real_fake(model.disc_t, x_t, swaps.x_ts.detach()))
    loss = d_s + d_t
    return loss, {"disc_s": d_s.detach(), "disc_t": d_t.detach(), "disc": loss.detach()}


def _real_fake(
    disc: nn.Module, real: torch.Tensor, fake: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``disc(real)`` and ``disc(fake)``, per-scale logit maps, from one pass over both."""
    maps = [m.split(len(real)) for m in disc(torch.cat([real, fake]))]
    return [r for r, _ in maps], [f for _, f in maps]
