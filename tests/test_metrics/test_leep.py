import numpy as np
import pytest

from mmseg_trf.metrics import leep, nce, nleep
from . import reference
from .conftest import make_features, softmax


@pytest.fixture
def probs_and_labels():
    x, y = make_features(n=400, d=7, classes=5, seed=11)
    return softmax(x), y


def test_leep_equals_textbook(probs_and_labels):
    p, y = probs_and_labels
    assert leep(p, y) == pytest.approx(reference.leep(p, y), abs=1e-10)


def test_nce_equals_textbook(probs_and_labels):
    p, y = probs_and_labels
    assert nce(p, y) == pytest.approx(reference.nce(p, y), abs=1e-10)


def test_finite_when_a_source_class_has_zero_mass(probs_and_labels):
    p, y = probs_and_labels
    p = np.concatenate([p, np.zeros((len(p), 2))], 1)  # never predicted
    assert np.isfinite(leep(p, y)) and np.isfinite(nce(p, y))
    assert leep(p, y) == pytest.approx(reference.leep(p, y), abs=1e-10)


def test_one_hot_predictions_give_leep_equal_nce():
    rng = np.random.default_rng(0)
    z = np.concatenate([np.arange(6), rng.integers(0, 6, 300)])
    y = (z + rng.integers(0, 2, len(z))) % 4
    p = np.eye(6)[z]
    assert leep(p, y) == pytest.approx(nce(p, y), abs=1e-12)


def test_uniform_predictions_give_minus_label_entropy():
    y = np.random.default_rng(1).integers(0, 5, 500)
    p = np.full((500, 3), 1 / 3)
    freq = np.bincount(y) / len(y)
    assert leep(p, y) == pytest.approx(np.sum(freq * np.log(freq)), abs=1e-12)


def test_deterministic_source_to_target_map_gives_zero():
    z = np.random.default_rng(2).integers(0, 6, 300)
    y = z // 2
    assert leep(np.eye(6)[z], y) == pytest.approx(0.0, abs=1e-12)
    assert nce(np.eye(6)[z], y) == pytest.approx(0.0, abs=1e-12)


def test_leep_not_positive(probs_and_labels):
    assert leep(*probs_and_labels) <= 0


def test_float32_probabilities_accepted(probs_and_labels):
    p, y = probs_and_labels
    assert leep(p.astype(np.float32), y) == pytest.approx(leep(p, y), abs=1e-5)


def test_nleep_is_leep_of_the_mixture_posterior():
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture
    x, y = make_features(n=500, d=6, classes=3, separation=3.0, seed=12)
    reduced = PCA(
        n_components=0.8, svd_solver='full', random_state=123).fit_transform(x)
    gmm = GaussianMixture(
        n_components=15,
        random_state=123,
        reg_covar=1e-6 * float(np.var(reduced))).fit(reduced)
    expected = reference.leep(gmm.predict_proba(reduced), y)
    assert nleep(x, y) == pytest.approx(expected, abs=1e-10)
    assert nleep(x, y) <= 0
