import copy

import numpy as np
import pytest
import torch

from mmseg_trf.metrics import (METRICS, HScoreAccumulator, LEEPAccumulator,
                               LogMEAccumulator, NCEAccumulator, hscore, leep,
                               logme, nce)
from .conftest import make_features, softmax


def batches(*arrays, size=97):
    n = len(arrays[0])
    for start in range(0, n, size):
        yield tuple(a[start:start + size] for a in arrays)


def stream(acc, x, y):
    for _ in range(acc.passes):
        for xb, yb in batches(x, y):
            acc.update(xb, yb)
        acc.next_pass()
    return acc.compute()


@pytest.mark.parametrize('acc_cls, fn', [(HScoreAccumulator, hscore),
                                         (LogMEAccumulator, logme)])
def test_feature_accumulators_equal_in_memory(acc_cls, fn):
    x, y = make_features(n=1000, d=9, classes=5, seed=1)
    x = x + 50.0  # a large mean: shifted accumulation must not lose it
    assert stream(acc_cls(), x, y) == pytest.approx(fn(x, y), rel=1e-10)


@pytest.mark.parametrize('acc_cls, fn', [(LEEPAccumulator, leep),
                                         (NCEAccumulator, nce)])
def test_probability_accumulators_equal_in_memory(acc_cls, fn):
    x, y = make_features(n=1000, d=6, classes=4, seed=2)
    p = softmax(x)
    assert stream(acc_cls(), p, y) == pytest.approx(fn(p, y), abs=1e-12)


def test_registry_points_at_accumulators():
    streaming = {n for n, s in METRICS.items() if s.accumulator is not None}
    assert streaming == {'hscore', 'logme', 'leep', 'nce'}


def test_leep_needs_the_same_pixels_twice():
    x, y = make_features(n=200, d=5, classes=3)
    acc = LEEPAccumulator()
    acc.update(softmax(x), y)
    acc.next_pass()
    acc.update(softmax(x[:100]), y[:100])
    with pytest.raises(ValueError, match='two passes'):
        acc.compute()


def test_accumulator_rejects_dimension_change():
    acc = HScoreAccumulator()
    acc.update(np.zeros((3, 4)), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match='dimension changed'):
        acc.update(np.zeros((3, 5)), np.array([0, 1, 0]))


def test_empty_accumulator_raises():
    with pytest.raises(ValueError, match='at least 2'):
        HScoreAccumulator().compute()


def state(acc):
    """Every tensor and number an accumulator holds, copied."""
    return {
        k: (v.clone() if torch.is_tensor(v) else copy.deepcopy(v))
        for k, v in vars(acc).items()
    }


def same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if torch.is_tensor(a[key]):
            assert torch.equal(a[key], b[key]), key
        elif key == 'rows':
            assert torch.equal(a[key].ids, b[key].ids)
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize('acc_cls, fn, probs', [
    (HScoreAccumulator, hscore, False),
    (LogMEAccumulator, logme, False),
    (NCEAccumulator, nce, True),
    (LEEPAccumulator, leep, True),
])
@pytest.mark.parametrize('bad', ['nan', 'inf', 'label'])
def test_a_refused_batch_leaves_the_state_unchanged(acc_cls, fn, probs, bad):
    x, y = make_features(n=400, d=6, classes=4, seed=5)
    x = softmax(x) if probs else x
    poisoned_x, poisoned_y = x[:50].copy(), y[:50].copy()
    if bad == 'label':
        poisoned_y[3] = -7
    else:
        poisoned_x[3, 2] = np.nan if bad == 'nan' else np.inf
    acc = acc_cls()
    for _ in range(acc.passes):
        acc.update(x[:200], y[:200])
        before = state(acc)
        with pytest.raises(ValueError):
            acc.update(poisoned_x, poisoned_y)
        same_state(before, state(acc))
        acc.update(x[200:], y[200:])  # later clean batches still count
        acc.next_pass()
    assert acc.compute() == pytest.approx(fn(x, y), rel=1e-9, abs=1e-12)


def test_leep_without_its_second_pass_says_so():
    with pytest.raises(ValueError, match='two passes'):
        LEEPAccumulator().compute()


def test_memory_independent_of_pixels():
    acc = HScoreAccumulator()
    for seed in range(5):
        x, y = make_features(n=2000, d=7, classes=3, seed=seed)
        acc.update(torch.from_numpy(x).float(), torch.from_numpy(y))
    state = [acc.gram, acc.sums, acc.counts, acc.shift]
    assert sum(t.numel() for t in state) == 7 * 7 + 3 * 7 + 3 + 7
    assert acc.n == 10000


def two_rank_stream(acc_cls, halves):
    """The distributed protocol: after each pass rank 0 merges rank 1; for
    a further pass every rank continues from the merged state."""
    ranks = [acc_cls(), acc_cls()]
    for p in range(ranks[0].passes):
        for acc, (xb, yb) in zip(ranks, halves):
            acc.update(xb, yb)
        ranks[0].merge(ranks[1])
        if p < ranks[0].passes - 1:
            ranks[0].next_pass()
            ranks[1] = copy.deepcopy(ranks[0])
    return ranks[0].compute()


@pytest.mark.parametrize('acc_cls, fn, probs',
                         [(HScoreAccumulator, hscore, False),
                          (LogMEAccumulator, logme, False),
                          (NCEAccumulator, nce, True),
                          (LEEPAccumulator, leep, True)])
def test_merged_accumulators_equal_in_memory(acc_cls, fn, probs):
    """Two processes' accumulators (different shifts and label ids seen)
    merge into the statistics of all pixels."""
    x, y = make_features(n=900, d=6, classes=4, seed=5)
    x = softmax(x) if probs else x + 20.0
    y = y.copy()
    y[:400] %= 3  # the first process never sees class 3
    halves = [(x[:400], y[:400]), (x[400:], y[400:])]
    assert two_rank_stream(acc_cls, halves) == pytest.approx(
        fn(x, y), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize('name', ['hscore', 'logme', 'nce', 'leep'])
def test_a_huge_label_id_costs_one_row_not_its_value(name):
    import resource
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 6))
    probs = rng.dirichlet(np.ones(4), 300)
    labels = rng.integers(0, 3, 300)
    huge = np.where(labels == 2, 10**9, labels)
    accumulator = {
        'hscore': HScoreAccumulator,
        'logme': LogMEAccumulator,
        'nce': NCEAccumulator,
        'leep': LEEPAccumulator
    }[name]
    data = features if name in ('hscore', 'logme') else probs
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    values = []
    for y in (labels, huge):
        halves = [accumulator(), accumulator()]
        for part, rows in zip(halves, (slice(0, 150), slice(150, None))):
            part.update(data[rows], y[rows])
        halves[0].merge(halves[1])
        if accumulator.passes == 2:
            halves[0].next_pass()
            halves[0].update(data, y)
        values.append(halves[0].compute())
    assert values[0] == pytest.approx(values[1], abs=1e-12)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 200_000  # kB: no table sized by the id
