import numpy as np
import pytest
import torch

from mmseg_trf.metrics import gbc, transrate
from . import reference
from .conftest import make_features


def test_gbc_equals_textbook(labelled):
    x, y = labelled
    assert gbc(x, y) == pytest.approx(reference.gbc_diagonal(x, y), abs=1e-10)


def test_gbc_range_and_separation():
    x, y = make_features(classes=4, separation=0.1, seed=1)
    xs, ys = make_features(classes=4, separation=20.0, seed=1)
    assert -4 * 3 <= gbc(x, y) <= gbc(xs, ys) <= 0
    assert gbc(xs, ys) == pytest.approx(0.0, abs=1e-3)


def test_gbc_reduces_wide_features_by_pca():
    x, y = make_features(n=400, d=100, classes=3, seed=2)
    assert np.isfinite(gbc(x, y))


def test_transrate_equals_textbook(labelled):
    x, y = labelled
    assert transrate(x, y) == pytest.approx(
        reference.transrate(x, y), abs=1e-10)


def test_transrate_with_absent_class_ids(labelled):
    x, y = labelled
    sparse_ids = np.array([0, 5, 9, 40])[y]
    assert transrate(x, sparse_ids) == pytest.approx(
        transrate(x, y), abs=1e-12)


def test_class_rates_batched_by_size_equal_one_gram_per_class():
    from mmseg_trf.metrics.transrate import class_coding_rates, coding_rate
    rng = np.random.default_rng(3)
    sizes = [1, 1, 2, 3, 3, 5, 8, 8, 40]  # around and above d = 6
    y = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(y)
    z = torch.from_numpy(rng.normal(size=(len(y), 6)))
    got = class_coding_rates(z, torch.from_numpy(y), len(sizes), 1e-4)
    for c in range(len(sizes)):
        zc = z[torch.from_numpy(y == c)]
        assert float(got[c]) == pytest.approx(
            float(coding_rate(zc.T @ zc, len(zc), 1e-4)), rel=1e-10)


def test_a_million_classes_finish_or_are_refused_within_seconds():
    import time
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1_000_000, 4))
    y = np.arange(1_000_000)
    start = time.perf_counter()
    assert np.isfinite(transrate(x, y))
    with pytest.raises(ValueError, match='1000000 classes'):
        gbc(x, y)
    assert time.perf_counter() - start < 30
