"""Adam with Adafactor's update clipping: ``TrainConfig.update_clip`` (not in the paper).

Marked choice against the spike of a memorised source (docs/stability.md):
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
    the parameter's device (fused and capturable Adam work unchanged), computed by
    multi-tensor (``torch._foreach_*``) operators for all the group's tensors at once
    (docs/performance.md). The uncorrected second moment is floored at ``eps^2``, which keeps
    0 / 0 out of the ratio.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(3))
        >>> opt = ClippedAdam([w], lr=1e-3, betas=(0.5, 0.999))
    """

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201
        pending = []
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            b2, eps = group["betas"][1], group["eps"]
            states = [self.state[p] for p in params]
            grads = [p.grad for p in params]
            # one multi-tensor kernel a line on CUDA, not one kernel a tensor
            g2 = torch._foreach_mul(grads, grads)
            v = torch._foreach_mul(g2, 1 - b2)
            seen = [i for i, s in enumerate(states) if s]
            if seen:
                torch._foreach_add_([v[i] for i in seen], [states[i]["exp_avg_sq"] for i in seen],
                                    alpha=b2)  # fmt: skip
            torch._foreach_clamp_min_(v, eps**2)
            ratio = torch._foreach_div(g2, v)
            torch._foreach_mul_(ratio, [1 / p.numel() for p in params])
            mean = torch.stack(torch._foreach_norm(ratio, 1))  # mean(g^2 / v), per tensor
            t = torch.stack(
                [
                    (s["step"] if s else mean.new_zeros(())).to(mean.device, mean.dtype)
                    for s in states
                ]
            )
            rms = (mean * (1 - b2 ** (t + 1))).sqrt()  # v_hat = v / (1 - b2^t)
            old = [torch.empty_like(p) for p in params]
            torch._foreach_copy_(old, params)
            pending.append((params, old, (1 - 1 / rms.clamp(min=1)).unbind()))
        loss = super().step(closure)
        for params, old, back in pending:  # Adam's step divided by max(1, rms): weight 0 keeps it
            torch._foreach_lerp_(params, old, back)
        return loss
