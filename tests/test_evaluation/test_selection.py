"""Decision criteria, bootstrap intervals, baselines and fused scores."""
import numpy as np
import pytest
from scipy import stats

from mmseg_trf.evaluation import rank_correlations
from mmseg_trf.evaluation.selection import (architecture_prior,
                                            bootstrap_interval,
                                            decision_criteria, fuse_scores,
                                            prior_fusion, probability_best,
                                            random_baseline)

TRUTH = [0.40, 0.55, 0.30, 0.50, 0.45]


def test_regret_and_top3_on_a_hand_made_case():
    # the top-scored source (index 3) has 0.50; the best (index 1) 0.55
    scores = [0.1, 0.7, 0.0, 0.9, 0.8]
    got = decision_criteria(scores, TRUTH)
    assert got['regret'] == pytest.approx(5.0)
    assert got['relative_top1'] == pytest.approx(0.50 / 0.55)
    assert got['top3'] == 1.0  # ranks: 3, 4, 1 -> index 1 is third
    assert decision_criteria([0.9, 0.0, 0.8, 0.7, 0.1], TRUTH)['top3'] == 0.0
    perfect = decision_criteria(TRUTH, TRUTH)
    assert perfect['regret'] == 0.0 and perfect['relative_top1'] == 1.0


def test_failed_scores_are_left_out():
    got = decision_criteria([np.nan, 0.1, np.nan, 0.2, 0.0], TRUTH)
    assert got['regret'] == pytest.approx(5.0)  # 0.50 picked, 0.55 best


def test_a_constant_score_is_undefined_not_a_crash():
    from mmseg_trf.evaluation import selection_criteria
    same = [7.0] * len(TRUTH)
    assert all(np.isnan(v) for v in decision_criteria(same, TRUTH).values())
    got = selection_criteria(same, TRUTH)
    for name in ('spearman', 'regret', 'top3'):
        assert np.isnan(got[name]), name
    for name in ('spearman_ci', 'regret_ci'):
        assert all(np.isnan(v) for v in got[name]), name
    # a source listed many times: ties everywhere, still no crash
    got = selection_criteria([1.0, 2.0] * 100, [0.3, 0.4] * 100)
    assert got['regret'] == pytest.approx(0.0, abs=1e-9)
    assert got['spearman'] == pytest.approx(1.0)


def test_sources_tied_at_the_top_are_a_random_pick():
    # the two top-scored sources reach 0.5 and 0.3: expected pick 0.4
    got = decision_criteria([1.0, 2.0, 2.0], [0.5, 0.3, 0.5])
    assert got['regret'] == pytest.approx(10.0)
    assert got['relative_top1'] == pytest.approx(0.8)


def test_random_baseline_is_the_expectation_over_orderings():
    truth = np.array(TRUTH)
    base = random_baseline(truth)
    assert base['regret'] == pytest.approx(100 * (0.55 - truth.mean()))
    assert base['top3'] == pytest.approx(3 / 5)
    rng = np.random.default_rng(0)
    picks = [
        decision_criteria(rng.permutation(5), truth) for _ in range(20000)
    ]
    assert np.mean([p['regret'] for p in picks]) == pytest.approx(
        base['regret'], abs=0.1)
    assert np.mean([p['top3'] for p in picks]) == pytest.approx(
        base['top3'], abs=0.01)


@pytest.mark.parametrize('criterion', ['spearman', 'kendall', 'regret'])
def test_bootstrap_interval_holds_the_estimate(criterion):
    rng = np.random.default_rng(1)
    for n in (8, 12, 40):
        truth = rng.uniform(0.2, 0.6, n)
        scores = truth + rng.normal(0, 0.08, n)
        point = dict(
            rank_correlations(scores, truth),
            **decision_criteria(scores, truth))[criterion]
        low, high = bootstrap_interval(scores, truth, criterion)
        assert low <= point <= high


@pytest.mark.parametrize('criterion', ['spearman', 'kendall', 'pearson'])
def test_batched_correlations_equal_scipys_per_sample(criterion):
    from mmseg_trf.evaluation.ranking import batched_correlation
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(40, 9))
    truth = scores + rng.normal(0, 1, (40, 9))
    scores[:10] = np.round(scores[:10])  # ties
    truth[10:15] = np.round(truth[10:15])
    scores[15] = 1.0  # constant: undefined
    got = batched_correlation(scores, truth, criterion)
    want = [rank_correlations(s, t)[criterion] for s, t in zip(scores, truth)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.isnan(got[15])
    with pytest.raises(ValueError, match='weighted_kendall'):
        batched_correlation(scores, truth, 'weighted_kendall')


@pytest.mark.parametrize('criterion', ['spearman', 'kendall'])
def test_correlation_intervals_shrink_with_more_sources(criterion):
    rng = np.random.default_rng(2)

    def width(n):
        truth = rng.uniform(0.2, 0.6, n)
        scores = truth + rng.normal(0, 0.08, n)
        low, high = bootstrap_interval(scores, truth, criterion)
        return high - low

    assert width(120) < width(30) < width(8)


def test_probability_best_counts_wins_over_repetitions():
    got = probability_best(
        dict(a=[1.0, 3.0, 2.0, 2.0], b=[2.0, 1.0, 1.0, 2.0], c=[0, 0, 0, 0]))
    assert got == pytest.approx(dict(a=0.625, b=0.375, c=0.0))
    assert sum(got.values()) == pytest.approx(1.0)


def test_rank_fusion_averages_ranks():
    scores = dict(
        leep=[-1.0, -2.0, -0.5], logme=[10.0, 30.0, 20.0], gbc=[1, 2, np.nan])
    fused = fuse_scores(scores, ['leep', 'logme', 'gbc'])
    np.testing.assert_allclose(fused, [(2 + 1 + 1) / 3, (1 + 3 + 2) / 3,
                                       (3 + 2) / 2])
    z = fuse_scores(scores, ['leep', 'logme'], rule='zscore')
    expected = (stats.zscore(scores['leep']) +
                stats.zscore(scores['logme'])) / 2
    np.testing.assert_allclose(z, expected)
    with pytest.raises(ValueError, match='missing'):
        fuse_scores(scores, ['otce'])
    with pytest.raises(ValueError, match='fusion rule'):
        fuse_scores(scores, ['leep'], rule='max')


def test_architecture_prior_is_the_mean_rank_share_over_past_targets():
    history = [
        [('fcn', 0.30), ('pspnet', 0.50), ('unet', 0.40), ('fcn', 0.20)],
        [('pspnet', 0.10), ('fcn', 0.60)],
    ]
    prior = architecture_prior(history)
    # ranks / n: target 1 fcn 2/4 and 1/4, pspnet 4/4, unet 3/4; target 2
    # pspnet 1/2, fcn 2/2
    assert prior == pytest.approx(
        dict(fcn=(0.5 + 0.25 + 1.0) / 3, pspnet=(1.0 + 0.5) / 2, unet=0.75))
    assert 'segnet' not in prior
    with pytest.raises(ValueError, match='two or more sources'):
        architecture_prior([[('fcn', 0.3)]])


def test_prior_fusion_weighs_standardised_scores_by_the_share():
    metric = np.array([[1.0, 3.0], [2.0, 1.0], [3.0, 2.0]])  # 3 sources, K=2
    prior = [0.2, np.nan, 0.8]

    def z(v):
        v = np.asarray(v, np.float64)
        return (v - v.mean()) / v.std()

    share = 0.25
    # the prior standardised over the sources that have one; the source
    # without one is its metric's value alone
    zp = np.array([-1.0, np.nan, 1.0])
    want = np.mean([[(1 - share) * zm + share * p if np.isfinite(p) else zm
                     for zm, p in zip(z(column), zp)]
                    for column in metric.T], 0)
    assert prior_fusion(metric, prior, share) == pytest.approx(want)
    # the ends: the metric alone (its mean over repetitions of z) and the
    # prior alone
    assert prior_fusion(metric, prior, 0.0) == pytest.approx(
        np.mean([z(c) for c in metric.T], 0))
    assert prior_fusion(metric[:, 0], prior,
                        1.0)[[0, 2]] == pytest.approx([-1.0, 1.0])
    with pytest.raises(ValueError, match='share'):
        prior_fusion(metric, prior, 1.5)
