import numpy as np
import pytest


def make_features(n=600, d=8, classes=4, seed=0, separation=1.0):
    """Gaussian classes with label-dependent means."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centers = rng.normal(0, separation, (classes, d))
    x = centers[y] + rng.normal(size=(n, d))
    return x, y


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


@pytest.fixture
def labelled():
    return make_features()
