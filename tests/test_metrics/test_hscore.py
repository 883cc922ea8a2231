import sys

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf_shrinkage as sk_shrinkage

from mmseg_trf.metrics import hscore, regularized_hscore
from mmseg_trf.metrics.hscore import ledoit_wolf_shrinkage
from . import reference
from .conftest import make_features, softmax


def test_equals_textbook_formula(labelled):
    x, y = labelled
    assert hscore(x, y) == pytest.approx(reference.hscore(x, y), abs=1e-10)


def test_invariant_to_invertible_affine_maps(labelled):
    x, y = labelled
    rng = np.random.default_rng(1)
    a = rng.normal(size=(x.shape[1], x.shape[1])) + 3 * np.eye(x.shape[1])
    assert hscore(x @ a + 7.0, y) == pytest.approx(hscore(x, y), rel=1e-9)


@pytest.mark.parametrize('d, classes', [(3, 6), (8, 4), (20, 3)])
def test_bounds(d, classes):
    x, y = make_features(n=500, d=d, classes=classes, separation=5.0)
    score = hscore(x, y)
    assert 0 <= score <= min(d, classes - 1) + 1e-12


def test_float32_softmax_with_singular_covariance():
    x, y = make_features(n=3000, d=10, classes=6, separation=2.0, seed=3)
    probs64 = softmax(2 * x)
    probs32 = probs64.astype(np.float32)
    exact = hscore(probs64, y)
    assert exact == pytest.approx(reference.hscore(probs64, y), rel=1e-8)
    assert hscore(probs32, y) == pytest.approx(exact, rel=1e-4)


def test_shrinkage_matches_sklearn(labelled):
    x, _ = labelled
    centered = torch.from_numpy(x - x.mean(0))
    assert ledoit_wolf_shrinkage(centered) == pytest.approx(
        sk_shrinkage(x), abs=1e-12)


def test_regularized_hscore_textbook(labelled):
    x, y = labelled
    alpha = sk_shrinkage(x)
    cov_f = np.cov(x, rowvar=False)
    shrunk = (1 - alpha) * cov_f + alpha * np.trace(
        cov_f) / x.shape[1] * np.eye(x.shape[1])
    g = np.zeros_like(x)
    for c in np.unique(y):
        g[y == c] = x[y == c].mean(0)
    expected = np.trace(
        np.linalg.pinv(shrunk) @ ((1 - alpha) * np.cov(g, rowvar=False)))
    assert regularized_hscore(x, y) == pytest.approx(expected, abs=1e-10)


def test_regularized_equals_hscore_without_shrinkage(labelled, monkeypatch):
    x, y = labelled
    module = sys.modules['mmseg_trf.metrics.hscore']
    monkeypatch.setattr(module, 'ledoit_wolf_shrinkage', lambda centered: 0.0)
    assert regularized_hscore(x, y) == pytest.approx(hscore(x, y), rel=1e-12)


def test_the_rounding_floor_covers_float32_rows_at_any_pixel_count():
    """Softmax rows in float32 sum to 1 only to float32 precision: the
    scatter along the all-ones direction is rounding noise that grows with
    the number of pixels, and the floor must grow with it (near-uniform
    rows: the relative floor alone does not remove it)."""
    import torch

    from mmseg_trf.metrics import FeatureStats
    from mmseg_trf.metrics.hscore import spectral_cutoff
    rng = np.random.default_rng(0)
    for n in (1000, 100000):
        logits = 1e-3 * rng.normal(size=(n, 19))  # near-uniform rows
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        stats = FeatureStats.from_data(
            probs.astype(np.float32), rng.integers(0, 19, n))
        ones = torch.full((19, ), 19**-0.5, dtype=torch.float64)
        noise = float(ones @ stats.centered_gram() @ ones)
        evals = torch.linalg.eigvalsh(stats.centered_gram())
        floor = spectral_cutoff(evals, stats.eps,
                                stats.n * stats.mean_square_norm())
        assert noise < floor
