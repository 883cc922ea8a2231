from fractions import Fraction
from types import SimpleNamespace

import pytest

from mmseg_trf.benchmark.search import budgeted_search
from mmseg_trf.evaluation import ArchitectureGains


class UntouchedRunner:
    """A runner whose spec is read and nothing else: a search refused by
    its checks must not train, score or finetune anything."""

    def __init__(self, architectures):
        sources = [
            SimpleNamespace(name=f's{i}', architecture=a)
            for i, a in enumerate(architectures)
        ]
        self.spec = SimpleNamespace(
            sources=sources, targets=[SimpleNamespace(name='aachen')])

    def __getattr__(self, name):
        raise AssertionError(f'the search used the runner: {name}')


GAINS = ArchitectureGains([('FCN', [(10, 0.2), (100, 0.3)])])


@pytest.mark.parametrize('kwargs, message', [
    (dict(target='bremen'), r"'bremen' is not in the spec; targets: "
     r"\['aachen'\]"),
    (dict(score='median'), 'median'),
    (dict(gains=GAINS), 'needs the full budget'),
    (dict(gains=GAINS, full_iters=50), 'at least max_iters; got 50'),
    (dict(width=0), 'at least 1.*got 0'),
    (dict(width=-1), 'got -1'),
    (dict(width=Fraction(3, 2)), r'in \(0, 1\]; got Fraction\(3, 2\)'),
    (dict(width='half'), "got 'half'"),
    (dict(min_iters=200), 'min_iters <= max_iters'),
    (dict(eta=1), 'eta >= 2'),
])
def test_a_search_that_cannot_run_is_refused_before_any_work(kwargs, message):
    kwargs = dict(dict(target='aachen', min_iters=10, max_iters=100), **kwargs)
    with pytest.raises(ValueError, match=message):
        budgeted_search(
            UntouchedRunner(['FCN', 'UNet']), metric='nce', **kwargs)


def test_scaling_by_gains_names_the_sources_without_a_family():
    with pytest.raises(ValueError, match=r"none for \['s1'\]"):
        budgeted_search(
            UntouchedRunner(['FCN', None]),
            'aachen',
            'nce',
            10,
            100,
            gains=GAINS,
            full_iters=1000)
