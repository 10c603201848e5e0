"""Each loss term of Eq. 1-11 against a value computed by hand or by a naive loop."""

import math

import pytest
import torch
import torch.nn.functional as F

from d2ca import losses


def test_orthogonality_is_zero_for_orthogonal_features_and_abs_cos_otherwise():
    a = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    d = torch.tensor([[0.0, 3.0, 1.0], [1.0, 0.0, -5.0]])
    assert losses.orthogonality_loss(a, d).item() == 0.0
    a2 = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    d2 = torch.tensor([[1.0, 1.0], [-1.0, 0.0]])  # cos = 1/sqrt(2) and -1
    expected = (1 / math.sqrt(2) + 1.0) / 2
    assert losses.orthogonality_loss(a2, d2).item() == pytest.approx(expected, abs=1e-6)


def test_au_loss_masks_unknown_labels():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    labels = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 1.0]])

    def bce(x, y):  # -[y log s(x) + (1 - y) log(1 - s(x))]
        s = 1 / (1 + math.exp(-x))
        return -(y * math.log(s) + (1 - y) * math.log(1 - s))

    expected = (bce(2.0, 1) + bce(0.5, 0) + bce(3.0, 1) + bce(-2.0, 1)) / 4
    assert losses.au_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    unknown = torch.full_like(labels, -1.0)
    x = logits.clone().requires_grad_()
    loss = losses.au_loss(x, unknown)
    loss.backward()
    assert loss.item() == 0.0 and x.grad.abs().sum() == 0  # still attached to the graph


def test_feature_consistency_and_reconstruction_are_mean_errors():
    a, a2 = torch.zeros(2, 4), torch.full((2, 4), 2.0)
    d, d2 = torch.ones(2, 4), torch.ones(2, 4)
    assert losses.feature_consistency_loss(a, a2, d, d2).item() == pytest.approx(4.0)
    x, x_hat = (
        torch.zeros(1, 3, 2, 2),
        torch.tensor([1.0, -3.0, 0.0, 0.0]).repeat(3).view(1, 3, 2, 2),
    )
    assert losses.reconstruction_loss(x, x_hat).item() == pytest.approx(1.0)
    assert losses.reconstruction_loss(x, x_hat, "l2").item() == pytest.approx((1 + 9) / 4)


def test_adversarial_terms_match_log_formulas():
    real = [torch.tensor([[[[2.0, -1.0]]]]), torch.tensor([[[[0.5]]]])]
    fake = [torch.tensor([[[[-3.0, 1.0]]]]), torch.tensor([[[[0.0]]]])]

    def log_sigmoid(x):
        return math.log(1 / (1 + math.exp(-x)))

    def log_one_minus_sigmoid(x):
        return math.log(1 - 1 / (1 + math.exp(-x)))

    # D maximises log D(x) + log(1 - D(x_fake)): the loss is its negative, mean per scale
    scale0 = (
        -(log_sigmoid(2.0) + log_sigmoid(-1.0)) / 2
        - (log_one_minus_sigmoid(-3.0) + log_one_minus_sigmoid(1.0)) / 2
    )
    scale1 = -log_sigmoid(0.5) - log_one_minus_sigmoid(0.0)
    d = losses.adversarial_d_loss(real, fake).item()
    assert d == pytest.approx((scale0 + scale1) / 2, rel=1e-6)
    g_expected = (-(log_sigmoid(-3.0) + log_sigmoid(1.0)) / 2 - log_sigmoid(0.0)) / 2
    assert losses.adversarial_g_loss(fake).item() == pytest.approx(g_expected, rel=1e-6)


def naive_info_nce(z: torch.Tensor, tau: float) -> float:
    """Eq. 10 written from the paper: for each of the 8N images, its positive is the same
    sample's image in the paired group; every other image of the step is a negative."""
    groups, n, _ = z.shape
    images = [(g, i) for g in range(groups) for i in range(n)]
    pair = {0: 4, 1: 5, 2: 6, 3: 7, 4: 0, 5: 1, 6: 2, 7: 3}
    total = 0.0
    for g, i in images:
        q = z[g, i]
        k_pos = z[pair[g], i]
        pos = math.exp(float(q @ k_pos) / tau)
        neg = sum(
            math.exp(float(q @ z[h, j]) / tau)
            for h, j in images
            if (h, j) not in ((g, i), (pair[g], i))
        )
        total += -math.log(pos / (pos + neg))
    return total / len(images)


@pytest.mark.parametrize("tau", [0.07, 0.5])
def test_image_contrastive_loss_matches_a_naive_loop(tau):
    torch.manual_seed(0)
    z = F.normalize(torch.randn(8, 3, 5, dtype=torch.float64), dim=-1)
    got = losses.image_contrastive_loss(z, tau).item()
    assert got == pytest.approx(naive_info_nce(z, tau), rel=1e-9)
    with pytest.raises(ValueError, match=r"\(8, N, D\)"):
        losses.image_contrastive_loss(z[:4], tau)


def test_feature_contrastive_loss_margin():
    subjects = torch.tensor([0, 0, 1])
    # the margin holds: same subject cos 1, other subject cos 0 -> zero
    phi = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    assert losses.feature_contrastive_loss(phi, subjects, alpha=0.1).item() == 0.0
    # violated: triplets (0, 1, 2) and (1, 0, 2)
    phi = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # (0,1,2): 0.1 - cos(p0,p1) + cos(p0,p2) = 0.1 - 0 + 1; (1,0,2): 0.1 - 0 + 0
    expected = (1.1 + 0.1) / 2
    assert losses.feature_contrastive_loss(phi, subjects, 0.1).item() == pytest.approx(expected)
    # no triplet (one subject, or all distinct): zero and still differentiable
    x = torch.randn(3, 4, requires_grad=True)
    assert losses.feature_contrastive_loss(x, torch.tensor([0, 1, 2])).item() == 0.0
    losses.feature_contrastive_loss(x, torch.tensor([5, 5, 5])).backward()
    assert x.grad is not None


def test_batch_standardise_is_zero_mean_unit_variance_per_element():
    torch.manual_seed(0)
    x = torch.randn(16, 3, 2, 2) * 5 + 2
    z = losses.batch_standardise(x, eps=0.0)
    torch.testing.assert_close(z.mean(0), torch.zeros(3, 2, 2), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.var(0, unbiased=False), torch.ones(3, 2, 2), atol=1e-4, rtol=0)
    # on standardised features, L_rep is 2 (1 - correlation): a copy scores 0, a shrunken
    # copy too (no reward for shrinking while the variance is well above eps), independent
    # noise about 2
    a = torch.randn(256, 8)
    rep = F.mse_loss
    assert rep(losses.batch_standardise(0.2 * a), losses.batch_standardise(a)) < 0.01
    noise = losses.batch_standardise(torch.randn(256, 8))
    assert rep(noise, losses.batch_standardise(a)) == pytest.approx(2.0, abs=0.3)
    with pytest.raises(ValueError, match="two faces"):
        losses.batch_standardise(torch.randn(1, 4))
