"""CC-FV (Yang et al., MICCAI 2023) against independent calculations."""
import numpy as np
import ot
import pytest
from scipy.linalg import sqrtm

from mmseg_trf.metrics import METRICS, ccfv
from mmseg_trf.metrics.ccfv import (class_consistency, feature_variety,
                                    gaussian_wasserstein)


def bures_by_square_roots(a, b):
    """W2 of the fitted Gaussians with d x d matrix square roots."""
    ca, cb = np.cov(a.T), np.cov(b.T)
    root = np.real(sqrtm(ca))
    cross = np.trace(np.real(sqrtm(root @ cb @ root)))
    squared = (
        np.sum((a.mean(0) - b.mean(0))**2) + np.trace(ca) + np.trace(cb) -
        2 * cross)
    return np.sqrt(max(squared, 0))


@pytest.mark.parametrize('na, nb, d', [(50, 40, 3), (9, 12, 5), (20, 25, 64)])
def test_gaussian_distance_matches_square_roots_and_pot(na, nb, d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(na, d))
    b = 2 * rng.normal(size=(nb, d)) + 1
    assert gaussian_wasserstein(a, b) == pytest.approx(
        bures_by_square_roots(a, b), rel=1e-6)
    if na > d and nb > d:  # POT's square roots need full-rank covariances
        pot = ot.gaussian.bures_wasserstein_distance(
            a.mean(0), b.mean(0), np.cov(a.T), np.cov(b.T))
        assert gaussian_wasserstein(a, b) == pytest.approx(
            float(pot), rel=1e-9)


def test_one_dimensional_gaussians_have_the_closed_form():
    a = np.array([[0.], [1.], [2.]])  # mean 1, std 1
    b = np.array([[3.], [7.], [11.]])  # mean 7, std 4
    assert gaussian_wasserstein(a, b) == pytest.approx(np.hypot(6, 3))


def test_feature_variety_by_hand():
    features = np.array([[0., 0], [2, 0], [3, 0], [3, 4], [3, 4]])
    images = np.array([0, 0, 1, 1, 2])  # means (1,0), (3,2), (3,4)
    eps = 1e-3
    expected = np.mean([1 / np.sqrt(d + eps) for d in (8, 20, 4)])
    assert feature_variety(features, images) == pytest.approx(expected)


def test_consistency_is_zero_for_identical_class_features_per_image():
    rng = np.random.default_rng(0)
    block = rng.normal(size=(30, 4))
    features = np.concatenate([block, block, block])
    labels = np.tile(np.repeat([0, 1, 2], 10), 3)
    images = np.repeat([0, 1, 2], 30)
    assert class_consistency(features, labels, images) == pytest.approx(
        0, abs=1e-6)
    shifted = features + images[:, None] * 0.5
    assert class_consistency(shifted, labels, images) > 0.4


def test_consistency_averages_pairs_then_classes():
    # class 0 in images 0, 1, 2 (three pairs), class 1 in images 0, 1
    rng = np.random.default_rng(1)
    groups = {(0, 0): 6, (0, 1): 7, (0, 2): 5, (1, 0): 8, (1, 1): 6}
    parts = {k: rng.normal(size=(n, 3)) + k[1] for k, n in groups.items()}
    features = np.concatenate(list(parts.values()))
    labels = np.concatenate([[c] * len(x) for (c, _), x in parts.items()])
    images = np.concatenate([[i] * len(x) for (_, i), x in parts.items()])
    w = lambda c, i, j: gaussian_wasserstein(parts[c, i], parts[c, j])  # noqa
    expected = np.mean(
        [np.mean([w(0, 0, 1), w(0, 0, 2), w(0, 1, 2)]),
         w(1, 0, 1)])
    assert class_consistency(features, labels,
                             images) == pytest.approx(expected)


def test_ccfv_is_log_variety_over_consistency_and_ignores_id_names():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(600, 8))
    labels = rng.integers(0, 4, 600)
    images = rng.integers(0, 6, 600)
    score = ccfv(features, labels, images)
    assert score == pytest.approx(
        np.log(
            feature_variety(features, images) /
            class_consistency(features, labels, images)))
    assert ccfv(features, labels * 7 + 3,
                images * 5 + 1) == pytest.approx(score)
    assert METRICS['ccfv'].fn is ccfv


def test_ccfv_needs_two_images_with_a_shared_class():
    features = np.random.default_rng(3).normal(size=(20, 3))
    with pytest.raises(ValueError, match='at least two images'):
        ccfv(features, np.arange(20) % 2, np.zeros(20, int))
    with pytest.raises(ValueError, match='each of two images'):
        ccfv(features, np.repeat([0, 1], 10), np.repeat([0, 1], 10))
    with pytest.raises(ValueError, match='images'):
        ccfv(features, np.arange(20) % 2, np.zeros(19, int))


@pytest.mark.parametrize('scale', [0.5, 3.0, 10.0])
def test_ccfv_falls_by_twice_the_log_of_a_feature_scale(scale):
    """Why CC-FV ranks sources backwards here: scaling every feature by
    ``s`` divides the variety energy by about ``s`` and multiplies the
    consistency distance by ``s``, so the score moves by about
    ``-2 log s`` whatever the features' structure; sources whose logits are
    larger (more confident) score lower."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    images = np.tile(np.repeat(np.arange(4), 10), 3)
    features = rng.normal(size=(120, 5)) + labels[:, None]
    base = ccfv(features, labels, images)
    # exact but for the variety's eps (1e-3) inside the square root
    assert ccfv(scale * features, labels, images) == pytest.approx(
        base - 2 * np.log(scale), abs=0.02)
