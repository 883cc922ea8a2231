"""Selection measured over runs: summaries and the default's choice."""
import math

import numpy as np
import pytest

from mmseg_trf.evaluation import choose_default, summarise_runs


def test_summary_holds_mean_range_and_an_interval_around_the_mean():
    rng = np.random.default_rng(0)
    runs = [
        dict(a=dict(spearman=v, regret=r), b=dict(spearman=0.1, regret=5.0))
        for v, r in zip(rng.uniform(0.2, 0.8, 10), rng.uniform(0, 4, 10))
    ]
    summary = summarise_runs(runs, ('spearman', 'regret'))
    a = summary['a']['spearman']
    values = [run['a']['spearman'] for run in runs]
    assert a['mean'] == pytest.approx(np.mean(values))
    assert (a['min'], a['max']) == (min(values), max(values))
    assert a['min'] < a['low'] < a['mean'] < a['high'] < a['max']
    assert a['runs'] == 10
    constant = summary['b']['regret']
    assert constant['low'] == constant['high'] == 5.0


def test_undefined_values_are_left_out():
    runs = [dict(a=dict(spearman=math.nan)), dict(a=dict(spearman=0.5))]
    summary = summarise_runs(runs, ('spearman', ))
    assert summary['a']['spearman']['runs'] == 1
    assert summary['a']['spearman']['mean'] == 0.5


def stat(value):
    """A summary cell: its mean."""
    return dict(mean=value)


def test_the_default_is_best_on_regret_and_spearman_together():
    summary = dict(
        low_regret=dict(regret=stat(0.5), spearman=stat(0.3)),
        balanced=dict(regret=stat(0.8), spearman=stat(0.7)),
        high_rho=dict(regret=stat(3.0), spearman=stat(0.75)),
        baseline=dict(regret=stat(0.1), spearman=stat(0.9)))
    # ranks: low_regret 1+3, balanced 2+2, high_rho 3+1 -> tie of 4, regret
    assert choose_default(
        summary, ['low_regret', 'balanced', 'high_rho']) == 'low_regret'
    summary['low_regret']['spearman'] = stat(0.1)
    summary['balanced']['regret'] = stat(0.4)
    assert choose_default(summary,
                          ['low_regret', 'balanced', 'high_rho']) == 'balanced'


def test_the_default_does_not_depend_on_the_candidates_order():
    """Equal mean regrets share a rank: with three tied on regret, the best
    Spearman wins whichever comes first (a positional rank once let the
    first of the tied win)."""
    summary = dict(
        first=dict(regret=stat(0.2), spearman=stat(0.65)),
        second=dict(regret=stat(0.2), spearman=stat(0.60)),
        best_rho=dict(regret=stat(0.2), spearman=stat(0.66)),
        worse=dict(regret=stat(1.0), spearman=stat(0.70)))
    names = list(summary)
    for order in (names, names[::-1], names[1:] + names[:1]):
        assert choose_default(summary, order) == 'best_rho'
