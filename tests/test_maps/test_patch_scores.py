"""Patch transferability maps (eq. 3) and weight maps (eq. 4)."""
import pickle
import tracemalloc

import numpy as np
import ot
import pytest
from scipy.optimize import linear_sum_assignment

from mmseg_trf.maps import (GridStore, _bands, assemble_map,
                            banded_patch_scores, fill_sparse, map_bands,
                            patch_otce, patch_pixels, store_bands,
                            transferability_map, weight_map, weights_at)
from mmseg_trf.metrics import leep, logme, otce


def in_memory_map(metric, feats, labels, src_feats, src_labels):
    return transferability_map(
        metric,
        feats,
        labels,
        patch=4,
        src_features=src_feats,
        src_labels=src_labels)


def banded_map(metric,
               target,
               target_labels,
               patch,
               source=None,
               source_labels=None,
               workers=1):
    """A map from grids on disk, one band at a time (what the builder does
    in each process)."""
    bands = store_bands(target, source, patch)
    results = banded_patch_scores(metric, target, target_labels, bands, patch,
                                  255, 5, source, source_labels, workers)
    return assemble_map(results, target_labels.shape[1:3], patch, 5)


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
    probs = softmax(feats)  # LEEP reads the grid values as logits
    t = in_memory_map(metric, feats, labels, src_feats, src_labels)
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


def test_patch_otce_reaches_the_exact_optimum():
    rng = np.random.default_rng(3)
    for n, m in [(40, 40), (40, 31)]:
        xs, xt = rng.normal(size=(n, 5)), rng.normal(size=(m, 5)) + 0.3
        ys, yt = rng.integers(0, 3, n), rng.integers(0, 4, m)
        cost = ot.dist(xs, xt)
        optimum = ot.emd2(np.full(n, 1 / n), np.full(m, 1 / m), cost)
        if n == m:  # the assignment path: a permutation of equal cost
            rows, cols = linear_sum_assignment(cost)
            assert cost[rows, cols].mean() == pytest.approx(optimum, 1e-12)
        # continuous random points: the optimum is unique, so OTCE is too
        assert patch_otce(xs, ys, xt, yt) == pytest.approx(
            otce(xs, ys, xt, yt, solver='emd'), abs=1e-12)


def write_stores(folder, feats, labels):
    values = GridStore(
        str(folder / 'values.bin'), len(feats), feats.shape[1:3],
        feats.shape[3:], np.float32)
    classes = GridStore(
        str(folder / 'labels.bin'),
        len(labels),
        labels.shape[1:3],
        dtype=np.int32)
    for index in range(len(feats)):
        values.write(index, feats[index])
        classes.write(index, labels[index])
    return values, classes


def test_grid_store_reads_back_bands(tmp_path):
    data = np.arange(3 * 6 * 5 * 2, dtype=np.float32).reshape(3, 6, 5, 2)
    store = GridStore(str(tmp_path / 's.bin'), 3, (6, 5), (2, ))
    store.write(0, data[0])
    store.write(1, data[1].reshape(30, 2))
    store.write(2, data[2].reshape(30, 2)[:7])  # cells in pieces
    store.write(2, data[2].reshape(30, 2)[7:], first_cell=7)
    np.testing.assert_array_equal(store.read_rows(2, 5), data[:, 2:5])
    # another process gets a pickled copy: the path and layout, not the data
    copy = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(copy.read_rows(0, 6), data)
    with pytest.raises(ValueError, match='do not fit'):
        store.write(0, data[0], first_cell=1)


@pytest.mark.parametrize('metric', ['leep', 'logme', 'otce'])
@pytest.mark.parametrize('workers', [1, 2])
def test_streamed_map_equals_the_in_memory_map(metric, workers, grids,
                                               tmp_path, monkeypatch):
    feats, labels, src_feats, src_labels = grids
    feats, src_feats = feats.astype(np.float32), src_feats.astype(np.float32)
    expected = in_memory_map(metric, feats, labels, src_feats, src_labels)
    (tmp_path / 't').mkdir()
    (tmp_path / 's').mkdir()
    target = write_stores(tmp_path / 't', feats, labels)
    source = write_stores(tmp_path / 's', src_feats, src_labels)
    monkeypatch.setattr(_bands, 'BAND_BYTES', 1)  # a band per row
    assert len(map_bands((8, 12), 4, 24, 5, 1)) == 2
    got = banded_map(
        metric,
        *target,
        patch=4,
        source=source[0],
        source_labels=source[1],
        workers=workers)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_streamed_map_memory_does_not_grow_with_the_grid(
        tmp_path, monkeypatch):
    """A map whose grids take 218 MB on disk is scored in a band's worth."""
    monkeypatch.setattr(_bands, 'BAND_BYTES', 2 << 20)
    rng = np.random.default_rng(0)
    images, shape, dim = 16, (512, 512), 12
    features = GridStore(str(tmp_path / 'f.bin'), images, shape, (dim, ))
    labels = GridStore(str(tmp_path / 'l.bin'), images, shape, dtype=np.int32)
    for index in range(images):
        y = rng.integers(0, 4, shape).astype(np.int32)
        labels.write(index, y)
        features.write(index, (rng.normal(size=shape + (dim, )) +
                               y[..., None]).astype(np.float32))
    held = features.nbytes + labels.nbytes
    tracemalloc.start()
    t_map = banded_map('leep', features, labels, patch=8)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert t_map.shape == (64, 64) and np.isfinite(t_map).all()
    assert held > 200e6
    assert peak < held / 8, (peak, held)


def test_shuffled_control_has_exactly_the_weights_distribution():
    from mmseg_trf.maps import control_weights
    weights = weight_map(np.random.default_rng(0).normal(size=(16, 32)))
    shuffled = control_weights(weights, 'shuffled', seed=3)
    assert np.array_equal(np.sort(shuffled.ravel()), np.sort(weights.ravel()))
    assert not np.array_equal(shuffled, weights)
    assert shuffled.dtype == weights.dtype
    assert np.array_equal(shuffled, control_weights(weights, 'shuffled', 3))
    uniform = control_weights(weights, 'uniform')
    assert np.allclose(uniform, weights.mean()) and uniform.shape == (16, 32)
    with pytest.raises(ValueError, match='control'):
        control_weights(weights, 'reversed')


def test_strength_scales_eq4_affinely():
    t = np.random.default_rng(1).normal(size=(4, 5))
    full = weight_map(t).astype(np.float64)
    for strength in (0.0, 0.5, 2.0):
        scaled = weight_map(t, strength)
        assert np.allclose(scaled, 1 + strength * (full - 1), atol=1e-6)
    assert weight_map(t, 0.5).max() == pytest.approx(
        1 + 0.5 * (np.e - 1), rel=1e-6)
    with pytest.raises(ValueError, match='strength'):
        weight_map(t, -1)


def test_class_balanced_weights_are_inverse_frequency_with_mean_one():
    from mmseg_trf.maps import class_balanced_weights
    weights = class_balanced_weights(np.array([100, 0, 25, 50]))
    assert weights[1] == 1.0
    present = weights[[0, 2, 3]]
    assert present.mean() == pytest.approx(1.0)
    assert present[1] / present[0] == pytest.approx(4.0)
