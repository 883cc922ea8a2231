import numpy as np
import pytest

from mmseg_trf.metrics import logme
from . import reference
from .conftest import make_features


def test_agrees_with_bruteforce_evidence_maximisation():
    x, y = make_features(n=150, d=6, classes=3, seed=2)
    assert logme(x, y) == pytest.approx(
        reference.logme_bruteforce(x, y), abs=1e-6)


def test_fewer_pixels_than_dimensions():
    # Patch maps score a few pixels in a wide feature space.
    x, y = make_features(n=12, d=40, classes=3, seed=4)
    score = logme(x, y)
    assert score == pytest.approx(reference.logme_bruteforce(x, y), abs=1e-6)


def test_fixed_point_pitfall_regression():
    """The widely copied update drops (d - k)/2 log(alpha) when n < d and
    inflates the evidence (thuml/LogME PR #24: 96.6 instead of -0.25); at
    n = 30, d = 200 ours stays at the true maximum."""
    x, y = make_features(n=30, d=200, classes=3, seed=6)
    score = logme(x, y)
    assert score == pytest.approx(reference.logme_bruteforce(x, y), abs=1e-6)


def test_invariant_to_rotation_and_global_scaling(labelled):
    x, y = labelled
    q, _ = np.linalg.qr(
        np.random.default_rng(3).normal(size=(x.shape[1], ) * 2))
    base = logme(x, y)
    assert logme(x @ q, y) == pytest.approx(base, rel=1e-8)
    assert logme(10.0 * x, y) == pytest.approx(base, rel=1e-8)


def test_not_invariant_to_shifts(labelled):
    x, y = labelled
    assert abs(logme(x + 5.0, y) - logme(x, y)) > 1e-3


def test_more_informative_features_score_higher():
    x, y = make_features(n=800, d=6, classes=4, separation=0.2, seed=8)
    x_sep, y_sep = make_features(n=800, d=6, classes=4, separation=4.0, seed=8)
    assert logme(x_sep, y_sep) > logme(x, y)


def test_class_no_better_than_zero_weights():
    """Tiny, rank-deficient features and rare classes: for some columns the
    evidence is maximal as alpha -> inf. Iterating on must neither diverge
    into NaN nor stop early; the value is the limit."""
    rng = np.random.default_rng(9)
    basis = rng.normal(size=(3, 8))
    x = 1e-3 * rng.normal(size=(80, 3)) @ basis
    y = rng.integers(0, 4, 80)
    y[:2] = 4  # a class of two pixels
    score = logme(x, y)
    assert np.isfinite(score)
    assert score == pytest.approx(reference.logme_bruteforce(x, y), abs=1e-6)


def test_all_zero_features_get_a_clear_error_and_nan_in_a_batch():
    import torch

    from mmseg_trf.metrics.logme import logme_from_moments
    labels = np.arange(60) % 3
    with pytest.raises(ValueError, match='all zero'):
        logme(np.zeros((60, 4)), labels)
    features = np.random.default_rng(0).normal(size=(60, 4))
    gram = torch.stack(
        [torch.zeros(4, 4),
         torch.tensor(features.T @ features)])
    sums = torch.stack([
        torch.zeros(3, 4),
        torch.tensor(
            np.stack([features[labels == c].sum(0) for c in range(3)]))
    ])
    counts = torch.full((2, 3), 20.0, dtype=torch.float64)
    batch = logme_from_moments(gram.double(), sums.double(), counts)
    assert np.isnan(batch[0])
    assert batch[1] == pytest.approx(logme(features, labels), abs=1e-10)
