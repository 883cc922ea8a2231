"""OTCE's sparse solver is exact on the logits of trained models.

``tests/data/trained_logits_v0.npz`` holds, per feature set, 1,600 pixels
per side (a source model's logits on its own training images with their
labels, and on the target's labelled images) of models the demo trains:
different architectures and 19, 7 or 6 classes. Written by
``python benchmarks/feature_zoo.py --pixels 1600 --sets <names> --export
tests/data/trained_logits_v0.npz`` (the sets listed in the file).
"""
import os.path as osp

import numpy as np
import ot
import pytest
import torch

from mmseg_trf.metrics import optimal_transport, otce
from mmseg_trf.metrics.optimal_transport import sparse_emd

DATA = osp.join(
    osp.dirname(osp.dirname(__file__)), 'data', 'trained_logits_v0.npz')
ARRAYS = dict(np.load(DATA))
SETS = sorted({key.split(':')[0] for key in ARRAYS})
#: Sets whose optimal coupling stays non-unique after identical pixels are
#: merged (distinct pixels tied), measured: two optimal plans of equal cost
#: (to 7e-13) that differ, OTCE 9.4e-4 apart.
TIED = {'domain_task-seed0/unet_far-fine': 1e-3}


def pixels(name):
    return [
        ARRAYS[f'{name}:{side}_{kind}_0'] for side in ('source', 'target')
        for kind in ('logits', 'labels')
    ]


def test_the_fixture_spans_architectures_and_class_counts():
    dims = {pixels(name)[0].shape[1] for name in SETS}
    architectures = {name.split('/')[1].split('_')[0] for name in SETS}
    assert len(dims) >= 3 and len(architectures) >= 3


@pytest.mark.parametrize('name', SETS)
def test_sparse_solver_reaches_the_dense_optimum(name):
    xs, ys, xt, yt = pixels(name)
    xs, xt = xs.astype(np.float64), xt.astype(np.float64)
    assert len(xs) * len(xt) > optimal_transport.DENSE_PAIRS  # sparse path
    plan = sparse_emd(torch.from_numpy(xs), torch.from_numpy(xt))
    cost = ot.dist(xs, xt)
    optimum = ot.emd2(
        ot.unif(len(xs)), ot.unif(len(xt)), cost, numItermax=10**8)
    # certified: no reduced cost below -tol = -1e-9 (max |x_s|^2 +
    # max |x_t|^2) of the centred points, so the plan is within tol of the
    # optimum (on tied optima, e.g. duplicate pixels, a hair above it)
    both = np.concatenate([xs, xt])
    centred = ((both - both.mean(0))**2).sum(1)
    tol = 1e-9 * (centred[:len(xs)].max() + centred[len(xs):].max())
    assert abs(float((plan.toarray() * cost).sum()) - optimum) <= tol
    # with identical pixels merged, one coupling and so one OTCE for both
    # solvers, unless distinct pixels tie
    assert otce(xs, ys, xt, yt) == pytest.approx(
        otce(xs, ys, xt, yt, solver='emd'), abs=TIED.get(name, 1e-9))
