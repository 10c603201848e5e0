"""What a run's metrics log needs to show starvation (per-term gradients, feature spread), and
the NaN guard.

An encoder that the auxiliary terms capture before it learns AU evidence shows up as a small
share of ``au_s`` in the gradient reaching ``E_au`` and as a classifier whose outputs no
longer vary across faces (docs/training.md, "Diagnostics"). Both are computed on the
training step's own forward pass, so they cost backward passes but no extra forward.
"""

from __future__ import annotations

import torch
from torch import nn


def term_gradient_norms(
    terms: dict[str, torch.Tensor], groups: dict[str, list[nn.Module]]
) -> dict[str, dict[str, float]]:
    """L2 norm of each weighted term's gradient on each group of networks.

    Args:
        terms: weighted summands of the loss, attached to the graph (see
            :func:`d2ca.train.objective.weighted_terms`).
        groups: name -> networks whose parameters form one group (e.g. ``e_au``).

    Returns:
        ``{group: {term: norm}}``; a term that does not reach a group has norm 0.

    >>> lin = nn.Linear(1, 1, bias=False)
    >>> lin.weight.data.fill_(2.0)  # doctest: +ELLIPSIS
    tensor(...)
    >>> y = lin(torch.ones(1, 1)).sum()
    >>> term_gradient_norms({"sq": y**2, "zero": y * 0}, {"lin": [lin]})
    {'lin': {'sq': 4.0, 'zero': 0.0}}
    """
    params = {
        g: [p for m in ms for p in m.parameters() if p.requires_grad] for g, ms in groups.items()
    }
    flat = [p for ps in params.values() for p in ps]
    out: dict[str, dict[str, float]] = {g: {} for g in groups}
    for name, term in terms.items():
        if not term.requires_grad:  # e.g. a term switched off by a zero weight
            grads = [None] * len(flat)
        else:
            grads = torch.autograd.grad(term, flat, retain_graph=True, allow_unused=True)
        start = 0
        for g, ps in params.items():
            own = grads[start : start + len(ps)]
            start += len(ps)
            sq = sum(float(gr.float().pow(2).sum()) for gr in own if gr is not None)
            out[g][name] = round(sq**0.5, 6)
    return out


def spread(x: torch.Tensor) -> float:
    """Standard deviation across the batch (dimension 0), averaged over the other elements.

    0 means every face maps to the same value: a collapsed feature or a constant prediction.

    >>> spread(torch.ones(4, 3)), spread(torch.tensor([[0.0], [2.0]]))
    (0.0, 1.4142135381698608)
    """
    return float(x.detach().float().flatten(1).std(dim=0).mean())


def feature_spreads(features: dict[str, torch.Tensor]) -> dict[str, float]:
    """Spread of each named tensor; ``logits_*`` entries are read as sigmoid outputs ``p_*``.

    >>> feature_spreads({"a_s": torch.zeros(2, 3), "logits_s": torch.zeros(2, 1)})
    {'a_s': 0.0, 'p_s': 0.0}
    """
    return {
        k.replace("logits_", "p_"): spread(torch.sigmoid(v) if k.startswith("logits_") else v)
        for k, v in features.items()
    }


class FiniteGuard:
    """The NaN guard, kept on the device: remembers the first step whose loss terms were not
    all finite without reading them back each step (a host sync that idles a GPU). The loop
    asks :meth:`first_bad` before it logs, evaluates or writes a checkpoint."""

    def __init__(self) -> None:
        self.step: torch.Tensor | None = None  # the first bad step since the last check, or -1
        self.bad: torch.Tensor | None = None  # which terms were not finite at that step
        self.names: list[str] = []

    def update(self, step: int, terms: dict[str, torch.Tensor], values: torch.Tensor) -> None:
        bad = ~torch.isfinite(values)
        if self.step is None:
            self.step = torch.full((), -1, dtype=torch.long, device=values.device)
            self.bad, self.names = torch.zeros_like(bad), list(terms)
        first = (self.step < 0) & bad.any()
        self.step = torch.where(first, step, self.step)
        self.bad = self.bad | (bad & first)

    def first_bad(self) -> tuple[int, list[str]] | None:
        """``(step, non-finite terms)`` of the first bad step since the last call, or None."""
        if self.step is None:
            return None
        step, bad = int(self.step), self.bad.tolist()
        self.step = None  # the terms may change (end of the warm-up)
        return None if step < 0 else (step, [n for n, b in zip(self.names, bad, strict=True) if b])
