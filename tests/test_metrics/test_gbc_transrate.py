import numpy as np
import pytest

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
