"""FID: the Fréchet distance of feature sets against closed forms; the extractors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from d2ca.errors import InputError
from d2ca.evaluation.fid import (
    InceptionExtractor,
    RandomConvExtractor,
    fid,
    fid_from_features,
    image_features,
    load_extractor,
)


def with_moments(rng: np.random.Generator, n: int, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Samples whose sample mean and (n-1) sample covariance are exactly ``mean`` and ``cov``."""
    x = rng.normal(size=(n, len(mean)))
    x -= x.mean(0)
    whiten = np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False)))
    return x @ whiten.T @ np.linalg.cholesky(cov).T + mean


def test_fid_of_gaussians_with_exact_moments_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    a = with_moments(rng, 200, mu1, np.diag(var1))
    b = with_moments(rng, 300, mu2, np.diag(var2))
    # diagonal covariances: ||mu1 - mu2||^2 + sum (sqrt(v1) - sqrt(v2))^2 = 5 + (4 + 1 + 0)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert expected == pytest.approx(10.0)
    assert fid_from_features(a, b) == pytest.approx(expected, abs=1e-6)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_sampled_gaussians_approaches_the_population_value() -> None:
    rng = np.random.default_rng(1)
    # N(0, I) vs N(m, 4 I) in 4-d: |m|^2 + 4 * (1 + 4 - 2 * 2) = 4 + 4
    a = rng.normal(size=(40000, 4))
    b = rng.normal(size=(40000, 4)) * 2 + np.array([1.0, 1.0, 1.0, 1.0])
    assert fid_from_features(a, b) == pytest.approx(8.0, abs=0.15)


@pytest.mark.parametrize("n_a,n_b", [(6, 9), (12, 12), (40, 30)])
def test_low_rank_path_equals_scipy_sqrtm(n_a: int, n_b: int) -> None:
    from d2ca.evaluation.fid import _low_rank_fid, frechet_distance

    rng = np.random.default_rng(n_a)
    a, b = rng.normal(size=(n_a, 16)), rng.normal(size=(n_b, 16)) * 1.5 + 0.3
    reference = frechet_distance(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )
    assert _low_rank_fid(a, b) == pytest.approx(reference, rel=1e-6, abs=1e-6)
    assert fid_from_features(a, b) == pytest.approx(reference, rel=1e-6, abs=1e-6)


def test_fid_checks_shapes() -> None:
    with pytest.raises(ValueError, match="same d"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least two"):
        fid_from_features(np.zeros((1, 3)), np.zeros((5, 3)))


def test_random_extractor_is_deterministic_and_separates_sets() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (12, 48, 48, 3), dtype=np.uint8)
    dark = (a // 4).astype(np.uint8)
    fa = image_features(a, RandomConvExtractor(seed=0), batch_size=5)
    assert fa.shape == (12, 512)
    np.testing.assert_array_equal(fa, image_features(a, RandomConvExtractor(seed=0)))
    ext = load_extractor("random")
    assert fid(a, a, ext) == pytest.approx(0.0, abs=1e-6)
    assert fid(a, dark, ext) > fid(a, a[::-1].copy(), ext) + 1e-3


def test_inception_extractor_reads_safetensors_only(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    from torchvision.models import inception_v3

    with pytest.raises(InputError, match="no Inception weights file"):
        load_extractor("inception", tmp_path / "missing.safetensors")
    with pytest.raises(InputError, match="needs --inception-weights"):
        load_extractor("inception")
    pth = tmp_path / "inception.pth"
    pth.write_bytes(b"pickle")
    with pytest.raises(InputError, match="only .safetensors weights are read"):
        InceptionExtractor(pth)
    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    path = tmp_path / "inception_v3.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    features = image_features(np.zeros((2, 64, 64, 3), np.uint8), InceptionExtractor(path))
    assert features.shape == (2, 2048)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"conv.weight": torch.zeros(1)}, str(wrong))
    with pytest.raises(InputError, match="not torchvision inception_v3 weights"):
        InceptionExtractor(wrong)
