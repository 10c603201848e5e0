"""d2ca.train.optim.ClippedAdam: Adam with Adafactor's update clipping."""

from __future__ import annotations

import pytest
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


CUDA = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize(
    ("device", "fused", "capturable"),
    [("cpu", False, False), ("cpu", True, False), pytest.param("cuda", True, True, marks=CUDA)],
)
def test_clipped_adam_clips_each_tensor_by_its_own_rms_in_one_group(
    device: str, fused: bool, capturable: bool
) -> None:
    """Several tensors of different shapes in one group, one of them without Adam state at
    first (no gradient on step 1): each tensor's step is Adam's divided by max(1, its own RMS
    of g^2 / v_hat), computed here tensor by tensor. Over the CPU's loop, over fused Adam
    (step counts as tensors), and on CUDA as the trainer builds it (fused, capturable)."""
    torch.manual_seed(0)
    shapes = [(4, 3, 3, 3), (7,), (5, 2)]
    plain_ws = [torch.nn.Parameter(torch.randn(s, device=device)) for s in shapes]
    clip_ws = [torch.nn.Parameter(w.detach().clone()) for w in plain_ws]
    kw = {"lr": 1e-3, "betas": (0.5, 0.999), "fused": fused, "capturable": capturable}
    plain, clipped = torch.optim.Adam(plain_ws, **kw), ClippedAdam(clip_ws, **kw)
    b2, sq = 0.999, [torch.zeros(s, device=device) for s in shapes]
    counts, cases = [0, 0, 0], set()
    for t in range(1, 6):
        kick = 50.0 if t == 5 else 1.0  # the second tensor is kicked on the last step
        grads = [0.01 * torch.randn(s, device=device) * (kick if i == 1 else 1.0)
                 for i, s in enumerate(shapes)]  # fmt: skip
        rms = []
        for i, g in enumerate(grads):
            if t == 1 and i == 2:  # no gradient on step 1: no state yet on step 2
                plain_ws[i].grad = clip_ws[i].grad = None
                rms.append(None)
                continue
            plain_ws[i].grad, clip_ws[i].grad = g.clone(), g.clone()
            sq[i] = b2 * sq[i] + (1 - b2) * g.square()
            counts[i] += 1
            rms.append((g.square() / (sq[i] / (1 - b2 ** counts[i]))).mean().sqrt().item())
        before_plain = [w.detach().clone() for w in plain_ws]
        before_clip = [w.detach().clone() for w in clip_ws]
        plain.step()
        clipped.step()
        for i, r in enumerate(rms):
            step_plain, step_clip = plain_ws[i] - before_plain[i], clip_ws[i] - before_clip[i]
            if r is None:
                assert torch.equal(step_clip, torch.zeros_like(step_clip))
            elif r < 1 - 1e-5:
                assert torch.equal(step_clip, step_plain)
            else:  # on step 1 g^2 = v_hat: an RMS of 1 within rounding, clipped or not
                torch.testing.assert_close(step_clip, step_plain / max(r, 1.0))
            cases.add(
                "none" if r is None else "kept" if r < 1 - 1e-5 else "clipped" if r > 1.5 else ""
            )
        for a, b in zip(plain_ws, clip_ws, strict=True):  # the same start for the next step
            b.data.copy_(a.data)
    assert {"none", "kept", "clipped"} <= cases and rms[1] > 2  # the kick is clipped
