import numpy as np
import pytest
import torch

from mmseg_trf.metrics import (METRICS, SOURCE_AND_TARGET, SOURCE_PROBS,
                               TARGET_FEATURES_BY_IMAGE)
from .conftest import make_features, softmax


def call(spec, x, y):
    if spec.inputs == SOURCE_PROBS:
        return spec.fn(x, y)
    if spec.inputs == SOURCE_AND_TARGET:
        return spec.fn(x, y, x, y)
    if spec.inputs == TARGET_FEATURES_BY_IMAGE:  # four images, interleaved
        return spec.fn(x, y, np.arange(len(x)) % 4)
    return spec.fn(x, y)


def valid_inputs(spec):
    x, y = make_features(n=200)
    if spec.inputs == SOURCE_PROBS:
        x = softmax(x)
    return x, y


@pytest.mark.parametrize('name', list(METRICS))
@pytest.mark.parametrize('corrupt, message', [
    (lambda x, y:
     (np.where(np.arange(x.size).reshape(x.shape) == 3, np.nan, x), y), 'NaN'),
    (lambda x, y:
     (np.where(np.arange(x.size).reshape(x.shape) == 3, np.inf, x), y), 'inf'),
    (lambda x, y: (x, y[:-1]), 'length mismatch'),
    (lambda x, y:
     (x, np.where(np.arange(len(y)) == 0, -1, y)), 'non-negative'),
    (lambda x, y: (x, np.zeros_like(y)), 'at least 2 classes'),
    (lambda x, y: (x[:1], y[:1]), 'at least 2'),
    (lambda x, y: (x, y.astype(np.float64)), 'integers'),
    (lambda x, y: (x[:, 0], y), '2-D'),
    (lambda x, y: (x + 1e-3j, y), 'complex'),
    (lambda x, y: (x, y.astype(object)), 'dtype object'),
    (lambda x, y: (torch.empty(x.shape, device='meta'), y), 'meta tensor'),
])
def test_bad_input_raises_clear_value_error(name, corrupt, message):
    spec = METRICS[name]
    x, y = corrupt(*valid_inputs(spec))
    with pytest.raises(ValueError, match=message):
        call(spec, x, y)


@pytest.mark.parametrize(
    'name', [n for n, s in METRICS.items() if s.inputs == SOURCE_PROBS])
@pytest.mark.parametrize('bad', ['logits', 'rows'])
def test_probabilities_must_be_distributions(name, bad):
    x, y = make_features(n=100)
    p = x if bad == 'logits' else softmax(x) * 0.9
    with pytest.raises(ValueError, match='probabilities'):
        METRICS[name].fn(p, y)


def test_otce_feature_dimensions_must_match():
    xs, ys = make_features(d=5)
    xt, yt = make_features(d=6)
    with pytest.raises(ValueError, match='dimensions differ'):
        METRICS['otce'].fn(xs, ys, xt, yt)


def test_otce_unknown_solver():
    x, y = make_features(n=50)
    with pytest.raises(ValueError, match='unknown OT solver'):
        METRICS['otce'].fn(x, y, x, y, solver='magic')


def test_not_an_array():
    with pytest.raises(ValueError, match='numpy array or a torch tensor'):
        METRICS['hscore'].fn('features', [0, 1])


@pytest.mark.parametrize('name', list(METRICS))
def test_numpy_and_torch_inputs_agree_and_return_float(name):
    spec = METRICS[name]
    x, y = valid_inputs(spec)
    from_numpy = call(spec, x, y)
    from_torch = call(spec, torch.from_numpy(x), torch.from_numpy(y))
    assert isinstance(from_numpy, float)
    assert from_numpy == pytest.approx(from_torch, rel=1e-12, abs=1e-12)
