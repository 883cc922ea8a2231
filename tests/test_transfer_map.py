"""Patch transferability maps (eq. 3) and weight maps (eq. 4)."""
import numpy as np
import pytest

from mmseg_trf.metrics import leep, logme, otce
from mmseg_trf.transfer_map import (fill_sparse, patch_pixels,
                                    transferability_map, weight_map,
                                    weights_at)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture
def grids():
    rng = np.random.default_rng(0)
    n, h, w, d = 5, 8, 12, 6
    labels = rng.integers(0, 3, (n, h, w))
    labels[0, :2, :2] = 255
    labels[:, 4:8, 8:12] = 255  # one patch entirely unlabelled
    feats = rng.normal(size=(n, h, w, d)) + labels[..., None] % 7 * 0.5
    src_labels = rng.integers(0, 4, (3, h, w))
    src_feats = rng.normal(size=(3, h, w, d)) + src_labels[..., None] * 0.3
    return feats, labels, src_feats, src_labels


def patch_of(values, patch, i, j):
    """The pixels of patch (i, j) over all images, the slow way."""
    block = values[:, i * patch:(i + 1) * patch, j * patch:(j + 1) * patch]
    return block.reshape((-1, ) + values.shape[3:])


def test_patch_pixels_groups_locations_over_images(grids):
    feats, labels, _, _ = grids
    grouped = patch_pixels(labels, 4)
    assert grouped.shape == (2 * 3, 5 * 16)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(
                np.sort(grouped[i * 3 + j]),
                np.sort(patch_of(labels, 4, i, j)))


@pytest.mark.parametrize('metric', ['leep', 'logme', 'otce'])
def test_each_patch_equals_the_metric_on_its_pixels(metric, grids):
    feats, labels, src_feats, src_labels = grids
    probs = softmax(feats)
    t = transferability_map(
        metric,
        feats,
        labels,
        patch=4,
        tgt_probs=probs,
        src_features=src_feats,
        src_labels=src_labels)
    assert t.shape == (2, 3)
    for i, j in [(0, 0), (1, 1), (0, 2)]:
        y = patch_of(labels, 4, i, j)
        ok = y != 255
        if metric == 'leep':
            expected = leep(patch_of(probs, 4, i, j)[ok], y[ok])
        elif metric == 'logme':
            expected = logme(patch_of(feats, 4, i, j)[ok], y[ok])
        else:
            ys = patch_of(src_labels, 4, i, j)
            expected = otce(
                patch_of(src_feats, 4, i, j),
                ys,
                patch_of(feats, 4, i, j)[ok],
                y[ok],
                solver='emd')
        assert t[i, j] == pytest.approx(expected, abs=1e-9)


def test_logme_patch_with_fewer_pixels_than_dimensions():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(1, 2, 2, 40))
    labels = np.array([[[0, 1], [1, 0]]])
    t = transferability_map('logme', feats, labels, patch=2, min_pixels=2)
    assert t[0, 0] == pytest.approx(
        logme(feats.reshape(4, 40), labels.ravel()), abs=1e-9)


def test_sparse_patches_get_the_mean_of_scored_ones(grids):
    feats, labels, _, _ = grids
    t = transferability_map('logme', feats, labels, patch=4)
    scored = np.delete(t.ravel(), 5)  # patch (1, 2) has no labelled pixel
    assert t[1, 2] == pytest.approx(scored.mean())


def test_fill_requires_one_scored_patch():
    with pytest.raises(ValueError, match='no patch'):
        fill_sparse(np.array([np.nan, 1.0]), np.array([0, 2]), 5)


def test_weight_map_is_equation_4():
    t = np.array([[-0.5, -1.0], [-2.0, -1.5]])
    w = weight_map(t)
    expected = np.exp((-t - 0.5) / 1.5)
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    assert w.min() == pytest.approx(1.0) and w.max() == pytest.approx(np.e)
    assert w[1, 0] == w.max()  # least transferable gets most weight


def test_constant_map_gives_unit_weights():
    np.testing.assert_array_equal(
        weight_map(np.full((3, 4), -0.7)), np.ones((3, 4), np.float32))


def test_weights_at_scales_image_positions_to_the_map():
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    # map grid 8 x 12 with 4 x 4 patches; the image is twice as large
    rows = np.array([0, 7, 8, 15, 15])
    cols = np.array([0, 7, 8, 23, 16])
    got = weights_at(weights, 4, (8, 12), rows, cols, (16, 24))
    np.testing.assert_array_equal(got, [0, 0, 4, 5, 5])
