"""Metrics computed where the features live.

Each case runs on the CPU and, where CUDA is available, on the GPU (the
``cuda`` marker; ``tools/check_device.sh`` runs them on a lent GPU
machine): tensors on a device give the values that numpy arrays give on
the CPU. Exact OT solves on the CPU (POT's network simplex) whatever the
input's device; its feasibility checks run on the device.
"""
import numpy as np
import ot
import pytest
import torch

from mmseg_trf.metrics import METRICS, otce
from mmseg_trf.metrics.optimal_transport import sparse_emd
from .conftest import make_features, softmax

DEVICES = [
    'cpu',
    pytest.param(
        'cuda',
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(
                not torch.cuda.is_available(), reason='no CUDA device')
        ])
]
#: Metrics of one side's features or probabilities (OTCE and CC-FV below).
SINGLE_SIDE = [
    name for name, spec in METRICS.items()
    if spec.inputs in ('target_features', 'source_probs')
]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', SINGLE_SIDE)
def test_metric_on_device_tensors_equals_numpy(device, name):
    x, y = make_features(n=800, d=12, classes=5, seed=3, separation=2.0)
    spec = METRICS[name]
    data = softmax(x) if spec.inputs == 'source_probs' else x
    expected = spec.fn(data, y)
    on_device = spec.fn(
        torch.from_numpy(data).to(device),
        torch.from_numpy(y).to(device))
    assert on_device == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', ['hscore', 'logme', 'leep', 'nce'])
def test_accumulator_on_device_equals_numpy_call(device, name):
    x, y = make_features(n=900, d=10, classes=4, seed=4, separation=2.0)
    spec = METRICS[name]
    data = softmax(x) if spec.inputs == 'source_probs' else x
    acc = spec.accumulator()
    tensor, labels = (torch.from_numpy(data).to(device),
                      torch.from_numpy(y).to(device))
    for _ in range(acc.passes):
        for batch in np.array_split(np.arange(len(y)), 3):
            acc.update(tensor[batch], labels[batch])
        acc.next_pass()
    assert acc.compute() == pytest.approx(spec.fn(data, y), rel=1e-9)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize(
    'solver, n, options',
    [
        ('sparse_emd', 1600, {}),  # 1600 x 1500 pairs: column generation
        ('sinkhorn', 200, dict(eps=50.0)),
    ])
def test_otce_on_device_tensors_equals_numpy(device, solver, n, options):
    xs, ys = make_features(n=n, d=6, classes=5, seed=5, separation=3.0)
    xt, yt = make_features(n=n - 100, d=6, classes=4, seed=6, separation=3.0)
    expected = otce(xs, ys, xt, yt, solver=solver, **options)
    moved = [torch.from_numpy(a).to(device) for a in (xs, ys, xt, yt)]
    assert otce(
        *moved, solver=solver, **options) == pytest.approx(
            expected, abs=1e-9)


@pytest.mark.parametrize('device', DEVICES)
def test_sparse_emd_plan_of_device_tensors_is_the_cpu_plan(device):
    xs, _ = make_features(n=1600, d=6, classes=5, seed=7, separation=3.0)
    xt, _ = make_features(n=1500, d=6, classes=4, seed=8, separation=3.0)
    cpu = sparse_emd(torch.from_numpy(xs), torch.from_numpy(xt))
    moved = sparse_emd(
        torch.from_numpy(xs).to(device),
        torch.from_numpy(xt).to(device))
    cost = ot.dist(xs, xt)
    assert float((moved.toarray() * cost).sum()) == pytest.approx(
        float((cpu.toarray() * cost).sum()), rel=1e-12)
