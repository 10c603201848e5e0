"""d2ca.train.optim.ClippedAdam: Adam with Adafactor's update clipping."""

from __future__ import annotations

import torch

from d2ca.train.optim import ClippedAdam


def test_clipped_adam_divides_a_step_by_the_gradients_excess_over_the_second_moment() -> None:
    plain_w = torch.nn.Parameter(torch.ones(8))
    clip_w = torch.nn.Parameter(torch.ones(8))
    plain = torch.optim.Adam([plain_w], lr=1e-3, betas=(0.5, 0.999))
    clipped = ClippedAdam([clip_w], lr=1e-3, betas=(0.5, 0.999))
    b2 = 0.999
    for t in range(1, 12):
        g = torch.full((8,), 0.01 if t < 11 else 1.0)  # ten quiet steps, then a kick
        before_plain, before_clip = plain_w.detach().clone(), clip_w.detach().clone()
        plain_w.grad, clip_w.grad = g.clone(), g.clone()
        plain.step()
        clipped.step()
        if t < 11:  # g^2 equals v_hat: Adam's step as it is
            assert torch.equal(plain_w, clip_w)
    # the kick: v_hat = (sum of b2^k (1 - b2) g_k^2) / (1 - b2^11), RMS(g^2 / v_hat) > 1
    v = sum(b2 ** (11 - k) * (1 - b2) * (0.01 if k < 11 else 1.0) ** 2 for k in range(1, 12))
    rms = (1.0 / (v / (1 - b2**11))) ** 0.5
    assert rms > 3  # early, the bias correction weighs the kick by about 1/11
    torch.testing.assert_close(clip_w - before_clip, (plain_w - before_plain) / rms)
