"""Learning curves, the plateau rule and successive halving on hand-made
curves."""
import math
from fractions import Fraction

import pytest

from mmseg_trf.evaluation import (RUNG_SCORES, ArchitectureGains, SearchDesign,
                                  best_by, choose_search_design,
                                  leave_one_group_out, level_by, plateau,
                                  rung_budgets, rung_value, search_width,
                                  seed_agreement, share_count,
                                  successive_halving, truth_at)


def curve(*values, step=100):
    return [((i + 1) * step, v) for i, v in enumerate(values)]


def test_best_by_is_the_best_validation_up_to_the_budget():
    c = curve(0.1, 0.3, 0.2, 0.4)
    assert best_by(c, 100) == 0.1
    assert best_by(c, 300) == 0.3
    assert best_by(c, 350) == 0.3
    assert best_by(c, 400) == 0.4
    assert math.isnan(best_by(c, 50))


def test_truth_at_averages_the_seeds_best_by_a_budget():
    curves = dict(a=[curve(0.1, 0.3), curve(0.2, 0.1)], b=[curve(0.4, 0.5)])
    assert truth_at(curves, 100) == pytest.approx(dict(a=0.15, b=0.4))
    assert truth_at(curves, 200) == pytest.approx(dict(a=0.25, b=0.5))


def test_truth_without_a_seed_averages_the_other_seeds_only():
    curves = dict(
        a=[curve(0.1, 0.3), curve(0.2, 0.1),
           curve(0.6, 0.2)],
        b=[curve(0.4, 0.5), curve(0.0, 0.9),
           curve(0.2, 0.1)])
    assert truth_at(
        curves, 200, without=0) == pytest.approx(dict(a=0.4, b=0.55))
    assert truth_at(
        curves, 200, without=2) == pytest.approx(dict(a=0.25, b=0.7))
    with pytest.raises(ValueError, match='no seed is left'):
        truth_at(dict(a=[curve(0.1, 0.3)]), 200, without=0)


def test_seed_agreement_is_the_mean_spearman_over_pairs_of_seeds():
    # at 200 iterations seed 0 ranks a > b > c, seed 1 the same, seed 2
    # c > b > a: pairs (0, 1) 1, (0, 2) -1, (1, 2) -1
    curves = dict(
        a=[curve(0.1, 0.9), curve(0.8),
           curve(0.1)],
        b=[curve(0.5), curve(0.5), curve(0.2)],
        c=[curve(0.2, 0.3), curve(0.1),
           curve(0.3)])
    assert seed_agreement(curves, 200) == pytest.approx(-1 / 3)
    # at 100 iterations seed 0 ranks b > c > a: pairs -0.5, 0.5, -1
    assert seed_agreement(curves, 100) == pytest.approx(-1 / 3)
    two = {n: runs[:2] for n, runs in curves.items()}
    assert seed_agreement(two, 200) == pytest.approx(1.0)
    assert seed_agreement(two, 100) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match='two or more seeds'):
        seed_agreement({n: runs[:1] for n, runs in curves.items()}, 200)


def test_plateau_compares_the_last_quarters_gain_with_seed_noise():
    # budget 800: first three quarters = up to 600
    flat = [
        curve(0.1, 0.2, 0.30, 0.31, 0.32, 0.33, 0.335, 0.34),
        curve(0.1, 0.2, 0.28, 0.30, 0.31, 0.35, 0.350, 0.35)
    ]
    rising = [
        curve(0.1, 0.1, 0.1, 0.1, 0.1, 0.20, 0.30, 0.40),
        curve(0.1, 0.1, 0.1, 0.1, 0.1, 0.21, 0.31, 0.41)
    ]
    result = plateau(dict(flat=flat, rising=rising), most=0.5)
    # noise: std(ddof 1) of the early bests, averaged over sources
    early_std = [
        abs(0.33 - 0.35) / math.sqrt(2),
        abs(0.20 - 0.21) / math.sqrt(2)
    ]
    assert result.noise == pytest.approx(sum(early_std) / 2)
    assert result.gains['flat'] == pytest.approx((0.01 + 0.0) / 2)
    assert result.gains['rising'] == pytest.approx(0.2)
    assert result.plateaued == dict(flat=True, rising=False)
    assert result.share == 0.5
    assert result.converged
    assert not plateau(dict(flat=flat, rising=rising), most=0.75).converged


def test_plateau_needs_seeds_and_early_validations():
    with pytest.raises(ValueError, match='two or more seeds'):
        plateau(dict(a=[curve(0.1, 0.2)]))
    late = [[(800, 0.3)], [(800, 0.31)]]
    with pytest.raises(ValueError, match='first three quarters'):
        plateau(dict(a=late))


def test_rung_budgets_double_and_end_at_the_maximum():
    assert rung_budgets(100, 800) == [100, 200, 400, 800]
    assert rung_budgets(100, 600) == [100, 200, 400, 600]
    assert rung_budgets(300, 300) == [300]
    assert rung_budgets(50, 800, eta=3) == [50, 150, 450, 800]
    with pytest.raises(ValueError):
        rung_budgets(0, 100)
    with pytest.raises(ValueError):
        rung_budgets(100, 800, eta=1)


# Each source's mIoU as a function of iterations: a is slow but ends best,
# b starts fast and stalls, c and d are worse throughout.
CURVES = dict(
    a=curve(0.05, 0.20, 0.30, 0.40, 0.45, 0.50, 0.52, 0.53),
    b=curve(0.30, 0.35, 0.38, 0.40, 0.41, 0.41, 0.41, 0.41),
    c=curve(0.10, 0.15, 0.20, 0.25, 0.27, 0.28, 0.29, 0.30),
    d=curve(0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16))


def oracle(calls):

    def finetune(name, iters):
        calls.append((name, iters))
        return best_by(CURVES[name], iters)

    return finetune


def test_successive_halving_keeps_the_better_half_and_counts_increments():
    calls = []
    result = successive_halving(['d', 'c', 'b', 'a'], oracle(calls),
                                [100, 200, 400, 800])
    # rung 100: b 0.30, c 0.10, a 0.05, d 0.02 -> b, c continue
    # rung 200: b 0.35, c 0.15 -> b picked; a was dropped at 100
    assert [r[0] for r in result.rungs] == [100, 200]
    assert result.rungs[0][1] == dict(d=0.02, c=0.10, b=0.30, a=0.05)
    assert set(result.rungs[1][1]) == {'b', 'c'}
    assert result.pick == 'b'
    assert result.iterations == 4 * 100 + 2 * 100
    assert result.cost(4, 800) == pytest.approx(600 / 3200)


def test_a_later_first_rung_finds_the_slow_starter():
    result = successive_halving(['d', 'c', 'b', 'a'], oracle([]), [400, 800])
    # rung 400: a 0.40 == b 0.40 tie -> metric order (b before a); both go
    # on; rung 800: a 0.53 > b 0.41
    assert result.rungs[0][1]['a'] == result.rungs[0][1]['b']
    assert set(result.rungs[1][1]) == {'a', 'b'}
    assert result.pick == 'a'
    assert result.iterations == 4 * 400 + 2 * 400


def test_ties_keep_the_metric_order_and_one_candidate_costs_nothing():
    same = successive_halving(['x', 'y'], lambda n, i: 0.5, [100, 200])
    assert same.pick == 'x'
    assert same.iterations == 200
    alone = successive_halving(['x'], lambda n, i: 1 / 0, [100])
    assert (alone.pick, alone.iterations, alone.rungs) == ('x', 0, [])
    with pytest.raises(ValueError):
        successive_halving([], lambda n, i: 0.0, [100])


def test_the_metrics_pick_kept_goes_on_until_a_rival_beats_it_late():
    # a, the slow starter, is the metric's pick: plain halving drops it at
    # the first rung; kept, it goes on with the better half and wins at 800
    assert successive_halving(['a', 'b', 'c', 'd'], oracle([]),
                              [100, 200, 400, 800]).pick == 'b'
    calls = []
    kept = successive_halving(['a', 'b', 'c', 'd'],
                              oracle(calls), [100, 200, 400, 800],
                              keep_first=True)
    # rung 100: b, c and a; rung 200: b 0.35, a 0.20 (c out); rung 400:
    # a ties b at 0.40, b first by mIoU, a kept; rung 800: a 0.53 > b 0.41
    entered = [''.join(sorted(rung)) for _, rung in kept.rungs]
    assert entered == ['abcd', 'abc', 'ab', 'ab']
    assert kept.pick == 'a'
    assert kept.iterations == 4 * 100 + 3 * 100 + 2 * 200 + 2 * 400
    assert len(calls) == 4 + 3 + 2 + 2
    # a worse pick is kept to the last rung and pays its increments there,
    # where the best by mIoU is picked
    worse = successive_halving(['d', 'c', 'b', 'a'],
                               oracle([]), [100, 200, 400, 800],
                               keep_first=True)
    assert worse.pick == 'b'
    assert set(worse.rungs[-1][1]) == {'b', 'c', 'd'}
    assert worse.iterations == 4 * 100 + 3 * 100 + 3 * 200 + 3 * 400
    # the pick that leads every rung costs what plain halving costs
    assert successive_halving(['b', 'a', 'c', 'd'],
                              oracle([]), [100, 200],
                              keep_first=True).iterations == 400 + 200
    design = SearchDesign(
        Fraction(1), Fraction(1, 8), Fraction(1), 2, keep_first=True)
    assert design.name == ('all sources, 1/8 to 1 of the budget, 1/2 kept, '
                           'the metric\'s pick kept')


def test_budgets_running_out_pick_the_best_of_the_last_rung():
    result = successive_halving(['c', 'b', 'a', 'd'], oracle([]), [800], eta=2)
    assert result.pick == 'a'
    assert result.iterations == 4 * 800


def test_a_design_scales_its_width_and_rungs_to_the_sources_and_budget():
    design = SearchDesign(Fraction(2, 3), Fraction(3, 20), Fraction(1, 2))
    # shares are exact fractions (with floats, ceil(0.7 * 10) is 8)
    assert design.candidates(list('abcdefghijkl')) == list('abcdefgh')
    assert design.candidates(['a']) == ['a']
    assert share_count(Fraction(7, 10), 10) == 7
    assert design.budgets(1000) == [150, 300, 500]
    assert design.budgets(20000) == [3000, 6000, 10000]
    assert design.name == 'top 2/3, 3/20 to 1/2 of the budget, 1/2 kept'
    # metric order d, c, b, a; the top 3 (ceil(2/3 * 4)) enter: a is out
    # rung 100: b 0.30, c 0.10, d 0.02 -> b, c; rung 200: b 0.35 > c 0.15
    short = SearchDesign(Fraction(2, 3), Fraction(1, 8), Fraction(1, 2))
    assert short.budgets(800) == [100, 200, 400]
    result = successive_halving(
        short.candidates(['d', 'c', 'b', 'a']), oracle([]), short.budgets(800),
        short.eta)
    assert result.pick == 'b'
    assert [r[0] for r in result.rungs] == [100, 200]
    assert result.iterations == 3 * 100 + 2 * 100
    # the whole order from a later first rung finds the slow starter
    late = SearchDesign(Fraction(1), Fraction(1, 2), eta=2)
    assert successive_halving(
        late.candidates(['d', 'c', 'b', 'a']), oracle([]), late.budgets(800),
        late.eta).pick == 'a'
    assert late.name.startswith('all sources, 1/2 to 1 of the budget')
    with pytest.raises(ValueError):
        SearchDesign(Fraction(1), Fraction(1, 2), Fraction(1, 4))
    with pytest.raises(ValueError):
        SearchDesign(Fraction(0), Fraction(1, 2))


def test_the_chosen_design_is_affordable_everywhere_and_best_at_worst():
    cheap, wide, narrow, costly = (SearchDesign(Fraction(w), Fraction(f, 20))
                                   for w, f in ((1, 1), (1, 3),
                                                (Fraction(1, 2), 3), (1, 10)))
    runs = [
        {
            cheap: (0.05, 3.0),
            wide: (0.20, 0.5),
            narrow: (0.10, 0.0),
            costly: (0.30, 0.0)
        },
        {
            cheap: (0.05, 0.0),
            wide: (0.24, 0.5),
            narrow: (0.10, 2.0),
            costly: (0.20, 0.0)
        },
    ]
    # costly exceeds 0.25 in one run; narrow's worst (2.0) loses to wide's
    assert choose_search_design(runs) == wide
    assert choose_search_design(runs, max_cost=0.5) == costly
    # equal worst regret: the lower mean wins
    runs[0][narrow] = (0.10, 0.5)
    runs[1][narrow] = (0.10, 0.0)
    assert choose_search_design(runs) == narrow
    with pytest.raises(ValueError):
        choose_search_design(runs, max_cost=0.01)


def test_the_mean_rule_weighs_every_run_alike():
    steady, spiky = (
        SearchDesign(Fraction(1), Fraction(f, 20)) for f in (1, 2))
    runs = [{
        steady: (0.1, 1.0),
        spiky: (0.1, 0.0)
    }] * 3 + [{
        steady: (0.1, 1.0),
        spiky: (0.2, 2.0)
    }]
    assert choose_search_design(runs) == steady  # worst 1.0 < 2.0
    assert choose_search_design(runs, rule='mean') == spiky  # 0.5 < 1.0
    # equal means: the lower worst run wins
    level = [{
        steady: (0.1, 0.25),
        spiky: (0.1, 0.0)
    }, {
        steady: (0.1, 0.25),
        spiky: (0.1, 0.5)
    }]
    assert choose_search_design(level, rule='mean') == steady
    with pytest.raises(ValueError, match='rule'):
        choose_search_design(runs, rule='median')


def test_the_worst_scenario_rule_judges_each_scenario_by_its_mean_run():
    steady, spiky = (
        SearchDesign(Fraction(1), Fraction(f, 20)) for f in (1, 2))
    # scenario a: spiky fails one run of two; scenario b: one run
    runs = [{
        steady: (0.1, 1.0),
        spiky: (0.2, 1.6)
    }, {
        steady: (0.1, 1.0),
        spiky: (0.1, 0.0)
    }, {
        steady: (0.1, 0.2),
        spiky: (0.1, 0.4)
    }]
    scenarios = ['a', 'a', 'b']
    assert choose_search_design(runs) == steady  # worst run 1.0 < 1.6
    # worst scenario: spiky's a 0.8 < steady's a 1.0
    assert choose_search_design(runs, 0.25, 'scenario', scenarios) == spiky
    # a scenario's cost is its highest run's: spiky's a is over 0.15
    assert choose_search_design(runs, 0.15, 'scenario', scenarios) == steady
    with pytest.raises(ValueError, match='scenario'):
        choose_search_design(runs, rule='scenario')


def test_a_tie_in_exact_arithmetic_goes_to_the_design_listed_first():
    # summed in float, 0.1 + 0.2 + 0.3 exceeds 0.3 + 0.2 + 0.1
    first, second = (
        SearchDesign(Fraction(1), Fraction(f, 20)) for f in (1, 2))
    runs = [{
        first: (0.1, a),
        second: (0.1, b)
    } for a, b in ((0.1, 0.3), (0.2, 0.2), (0.3, 0.1))]
    assert choose_search_design(runs, rule='mean') == first
    assert choose_search_design(runs[::-1], rule='mean') == first


def test_search_width_covers_the_probability_of_being_best():
    order = ['a', 'b', 'c', 'd']
    assert search_width(dict(a=1.0), order) == 2  # the minimum
    assert search_width(dict(a=0.5, b=0.3, c=0.2), order) == 3
    assert search_width(dict(a=0.5, b=0.4, c=0.1), order) == 2
    assert search_width(
        dict(a=0.4, b=0.2, c=0.2, d=0.2), order, coverage=1.0) == 4
    assert search_width(dict(a=1.0), order, minimum=1) == 1


def test_leave_one_group_out_chooses_on_the_others_only():

    def run(good, bad):
        return dict(
            m1=dict(spearman=good, regret=0.0),
            m2=dict(spearman=bad, regret=5.0))

    runs = [('s1', run(0.9, 0.1)), ('s1', run(0.8, 0.2)), ('s2', run(0.7,
                                                                     0.3)),
            ('s3', run(0.1, 0.9))]
    # s3 alone prefers m2 (higher Spearman, but regret 5 vs 0 ties ranks:
    # sum 2 each, lower regret wins -> m1) so make m2 clearly better there
    runs[3][1]['m2']['regret'] = 0.0
    runs[3][1]['m1']['regret'] = 4.0
    out = leave_one_group_out(runs, ['m1', 'm2'])
    assert out['s3']['chosen'] == 'm1'  # chosen on s1 and s2
    assert out['s3']['left_out']['spearman']['mean'] == pytest.approx(0.1)
    assert out['s3']['left_out']['regret']['mean'] == pytest.approx(4.0)
    assert out['s1']['chosen'] == 'm1'  # s2 + s3: m1 (0.4, 2.0) vs m2
    assert out['s1']['left_out']['spearman']['runs'] == 2
    # the runner-up is the choice without the chosen, reported the same way
    assert out['s3']['runner_up'] == 'm2'
    assert out['s3']['runner_up_left_out']['regret']['mean'] == 0.0
    lone = leave_one_group_out(runs, ['m1'])['s3']
    assert lone['runner_up'] is None and lone['runner_up_left_out'] == {}
    with pytest.raises(ValueError, match='two or more groups'):
        leave_one_group_out(runs[:2], ['m1'])


def test_leave_one_group_out_chooses_on_the_runs_given_for_each_group():
    """A method that learns from other groups (a prior) is chosen on rows
    re-scored without the left-out group: here s3's choice is made on rows
    where m2 wins, not on the default rows where m1 does."""

    def row(m1, m2):
        return dict(
            m1=dict(spearman=m1, regret=0.0), m2=dict(spearman=m2, regret=0.0))

    runs = [('s1', row(0.9, 0.1)), ('s2', row(0.8, 0.2)), ('s3', row(0.5,
                                                                     0.6))]
    without_s3 = [('s1', row(0.1, 0.9)), ('s2', row(0.2, 0.8))]
    choices = {g: [r for r in runs if r[0] != g] for g in ('s1', 's2')}
    out = leave_one_group_out(
        runs, ['m1', 'm2'], choice_runs=dict(choices, s3=without_s3))
    assert out['s3']['chosen'] == 'm2'
    assert out['s3']['left_out']['spearman']['mean'] == pytest.approx(0.6)
    assert leave_one_group_out(runs, ['m1', 'm2'])['s3']['chosen'] == 'm1'
    assert out['s1']['chosen'] == 'm1'  # s2 and s3 as given


def test_level_is_the_mean_of_the_budgets_second_half():
    curve = [(50, 0.1), (100, 0.5), (150, 0.2), (200, 0.3)]
    assert level_by(curve, 200) == pytest.approx(0.25)  # 150 and 200
    assert best_by(curve, 200) == 0.5
    assert level_by(curve, 100) == 0.5  # (50, 100]: 100 alone
    # nothing in (30, 60]: the last validation at or before 60
    assert level_by([(10, 0.4), (20, 0.1)], 60) == 0.1
    assert math.isnan(level_by(curve, 40))


def test_ranking_by_level_keeps_a_steady_run_over_a_lucky_spike():
    curves = {
        'spiky': [(50, 0.1), (100, 0.6), (150, 0.1), (200, 0.1)],
        'steady': [(50, 0.3), (100, 0.3), (150, 0.35), (200, 0.35)]
    }
    picks = {}
    for score in RUNG_SCORES:
        design = SearchDesign(Fraction(1), Fraction(1, 2), eta=2, score=score)
        picks[score] = successive_halving(
            design.candidates(['spiky', 'steady']),
            lambda name, iters: RUNG_SCORES[score](curves[name], iters),
            design.budgets(400), design.eta).pick
    assert picks == dict(best='spiky', level='steady')
    assert design.name.endswith('1/2 kept, ranked by level')
    with pytest.raises(ValueError):
        SearchDesign(Fraction(1), Fraction(1, 2), score='median')


def test_architecture_gains_are_the_familys_median_ratio_to_the_full_budget():
    slow = [
        curve(0.1, 0.2, 0.3, 0.4),
        curve(0.2, 0.2, 0.3, 0.6),
        curve(0.1, 0.3, 0.3, 0.5),
        curve(0.1, 0.1, 0.2, 0.3)
    ]
    fast = [curve(0.3, 0.3, 0.3, 0.3)]
    gains = ArchitectureGains([('slow', c) for c in slow] + [('fast', c)
                                                             for c in fast])
    # best at 400 over best at 100 (a quarter): 4, 3, 5, 3 -> median 3.5
    assert gains.gain('slow', Fraction(1, 4)) == pytest.approx(3.5)
    assert gains.gain('slow', Fraction(1)) == 1.0
    # one run of 'fast' is too few: pooled over all five (4, 3, 5, 3, 1)
    assert gains.gain('fast', Fraction(1, 4)) == pytest.approx(3.0)
    assert gains.gain('unseen', Fraction(1, 4)) == pytest.approx(3.0)
    # a rung of 500 of 2,000 iterations is a quarter of its budget
    assert gains.scale('slow', 0.1, 500, 2000) == pytest.approx(0.35)
    # a rung's value: the score of the curve so far, scaled if gains are given
    c = curve(0.1, 0.05, 0.3, 0.4, step=250)
    assert rung_value(c, 500) == 0.1
    assert rung_value(c, 500, 'best', gains, 'slow',
                      2000) == pytest.approx(0.35)
    assert rung_value(c, 500, 'level', gains, 'slow',
                      2000) == pytest.approx(0.05 * 3.5)
    with pytest.raises(ValueError):
        gains.gain('slow', Fraction(0))
    with pytest.raises(ValueError):
        ArchitectureGains([])


def test_scaling_by_past_gains_keeps_a_slow_starter_of_a_slow_family():
    history = ArchitectureGains([('slow', curve(0.1, 0.2, 0.3, 0.4))] * 4 +
                                [('fast', curve(0.3, 0.3, 0.3, 0.3))] * 4)
    live = {
        'fast_a': curve(0.3, 0.3, 0.3, 0.3),
        'slow_b': curve(0.15, 0.3, 0.45, 0.6)
    }
    picks = {}
    for scaled in (False, True):
        design = SearchDesign(
            Fraction(1), Fraction(1, 4), Fraction(1, 4), scaled=scaled)

        def finetune(name, iters, scaled=scaled):
            return rung_value(live[name], iters, 'best',
                              history if scaled else None,
                              name.split('_')[0], 400)

        picks[scaled] = successive_halving(
            design.candidates(list(live)), finetune, design.budgets(400),
            design.eta).pick
    assert picks == {False: 'fast_a', True: 'slow_b'}
    assert design.name.endswith('1/2 kept, scaled by past gains')
