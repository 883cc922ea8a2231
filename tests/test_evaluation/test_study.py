"""Selection measured over runs: summaries and the default's choice."""
import math

import numpy as np
import pytest

from mmseg_trf.evaluation import (choose_default, choose_prior_share,
                                  summarise_runs)


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


def test_the_prior_share_is_the_one_that_ranks_past_targets_best():
    truth = [0.30, 0.40, 0.50, 0.60]
    prior_right = [0.1, 0.2, 0.3, 0.4]  # ranks the truth
    metric_right = [1.0, 2.0, 3.0, 4.0]
    backwards = [4.0, 3.0, 2.0, 1.0]
    # the prior is right and the metric exactly backwards on every past
    # target: they cancel at 1/2, every larger share ranks right, and the
    # tie goes to the smallest (the first compared)
    assert choose_prior_share([(backwards, prior_right, truth)] * 3) == 0.75
    # the metric right, the prior backwards: the metric alone
    assert choose_prior_share([(metric_right, prior_right[::-1], truth)] *
                              3) == 0.0
    # the prior only tells two families apart ({0, 1} < {2, 3}), the metric
    # orders within them but not across: a small share of the metric
    # breaks the prior's ties and ranks all four right
    within = [2.0, 3.0, 0.0, 1.0]
    family = [0.25, 0.25, 0.75, 0.75]
    shares = (0.0, 0.5, 0.9, 1.0)
    assert choose_prior_share([(within, family, truth)] * 2, shares) == 0.9
    # a prior no past target knew (NaN) leaves the metric alone at every
    # share: all tie, and the first share compared is kept
    unknown = [np.nan] * 4
    assert choose_prior_share([(metric_right, unknown, truth)], shares) == 0.0
    with pytest.raises(ValueError, match='past targets'):
        choose_prior_share([])


def test_the_choices_criteria_are_the_ones_selection_criteria_gives():
    from mmseg_trf.evaluation import selection_criteria
    from mmseg_trf.evaluation.study import spearman_and_regret
    rng = np.random.default_rng(1)
    for _ in range(20):
        scores = rng.normal(size=6)
        scores[rng.integers(6)] = np.nan
        truth = rng.uniform(0.2, 0.6, 6)
        want = selection_criteria(scores, truth, intervals=False)
        got = spearman_and_regret(scores, truth)
        assert got['spearman'] == pytest.approx(want['spearman'])
        assert got['regret'] == pytest.approx(want['regret'])
    tied = spearman_and_regret([1.0, 1.0, 1.0], [0.1, 0.2, 0.3])
    assert math.isnan(tied['spearman']) and math.isnan(tied['regret'])
