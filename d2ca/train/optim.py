"""Adam with Adafactor's update clipping: ``TrainConfig.update_clip`` (not in the paper).

Marked choice against the spike of a memorised source (docs/training.md, "Stability"):
there, a batch whose gradient is several times what Adam's second moment remembers gets a
step of several lr on most coordinates, and the run crosses Adam's stability threshold.
Dividing each tensor's step by ``max(1, RMS(g^2 / v_hat))`` caps that step, as StableAdamW
does (Wortsman et al., "Stable and low-precision training for large-scale vision-language
models", 2023), and leaves every other step as plain Adam's.
"""

from __future__ import annotations

import torch


class ClippedAdam(torch.optim.Adam):
    """Adam whose step of each tensor is divided by ``max(1, RMS(g^2 / v_hat))``, with
    ``v_hat`` the bias-corrected second moment that includes this step's gradient ``g``.

    Adam's step is linear in lr, so the step Adam takes is scaled after it is taken: a
    tensor whose RMS is at most 1 gets Adam's step to the bit. No host sync: the RMS stays on
    the parameter's device (fused and capturable Adam work unchanged).

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(3))
        >>> opt = ClippedAdam([w], lr=1e-3, betas=(0.5, 0.999))
    """

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201
        pending = []
        for group in self.param_groups:
            b2, eps = group["betas"][1], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state, g2 = self.state[p], p.grad.square()
                if state:
                    v, t = state["exp_avg_sq"] * b2 + (1 - b2) * g2, state["step"] + 1
                else:
                    v, t = (1 - b2) * g2, 1.0
                v_hat = v / (1 - b2**t)
                rms = (g2 / v_hat.clamp(min=eps**2)).mean().sqrt()
                pending.append((p, p.clone(), rms))
        loss = super().step(closure)
        for p, old, rms in pending:
            p.copy_(torch.where(rms > 1, old + (p - old) / rms, p))
        return loss
