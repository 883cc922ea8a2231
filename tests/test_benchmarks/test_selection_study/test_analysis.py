import math
from fractions import Fraction

import pytest

from benchmarks.selection_study import analysis
from mmseg_trf.apis.report import HISTORY_PRIOR_SHARE
from mmseg_trf.benchmark.search import (DEFAULT_ETA, DEFAULT_RUNGS,
                                        DEFAULT_WIDTH)
from mmseg_trf.evaluation import SearchDesign
from tests.test_benchmarks.test_selection_study.hand_made import (
    committed_records, curve, record, three_families)


def test_a_simulated_search_ranks_its_rungs_by_the_designs_score():
    # seed 0: a spikes once, b holds its level; seed 1 (the yardstick of
    # seed 0's search) has b far above a
    runs = record(
        {
            'a': [curve(0.1, 0.6, 0.1, 0.1),
                  curve(0.1, 0.1, 0.1, 0.1)],
            'b': [curve(0.3, 0.3, 0.35, 0.35),
                  curve(0.3, 0.3, 0.4, 0.4)]
        },
        budget=8)
    regret = {
        score: analysis.halving_point(runs, 0, ['a', 'b'], [8], 2, score)[2]
        for score in ('best', 'level')
    }
    assert regret == pytest.approx(dict(best=30.0, level=0.0))


def test_halving_scaled_by_past_gains_learns_them_from_other_runs():
    # fcn8s starts fast and stays; frrn starts slow and ends higher
    live = record(
        {
            'fcn8s_a': [[(1, 0.3), (4, 0.3), (8, 0.3)]] * 2,
            'frrn_b': [[(1, 0.2), (4, 0.3), (8, 0.5)]] * 2
        },
        budget=8)
    past = record(
        {
            'fcn8s_c': [[(1, 0.4), (4, 0.4), (8, 0.4)]] * 4,
            'frrn_d': [[(1, 0.1), (4, 0.2), (8, 0.4)]] * 4
        },
        budget=8)
    gains = analysis.history_gains([past])
    assert gains.gain('frrn', 1 / 8) == pytest.approx(4.0)
    plain = analysis.halving_point(live, 0, ['fcn8s_a', 'frrn_b'], [1, 8], 2)
    scaled = analysis.halving_point(
        live, 0, ['fcn8s_a', 'frrn_b'], [1, 8], 2, gains=gains)
    assert (plain[2], scaled[2]) == pytest.approx((20.0, 0.0))
    design = SearchDesign(Fraction(1), Fraction(1, 8), scaled=True)
    assert analysis.design_point(live, ['fcn8s_a', 'frrn_b'], design,
                                 gains)[2] == pytest.approx(0.0)
    with pytest.raises(ValueError, match='history'):
        analysis.design_point(live, ['fcn8s_a', 'frrn_b'], design)
    assert analysis.history_gains([]) is None
    # finetuning every source to an eighth, then picking by the scaled score
    points = analysis.strategies(live, ['fcn8s_a', 'frrn_b'], 'nce', 2, gains)
    assert points['finetune all to 1 it'][2] == pytest.approx(20.0)
    assert points['finetune all to 1 it, scaled by past gains'][2] == \
        pytest.approx(0.0)
    assert 'finetune all, 1 seed, scaled by past gains' not in points


def test_a_design_that_keeps_the_metrics_pick_simulates_it():
    # frrn_a, the metric's pick, starts slowest and ends best on both seeds
    live = record(
        {
            'frrn_a': [curve(0.1, 0.2, 0.3, 0.6)] * 2,
            'fcn8s_b': [curve(0.3, 0.35, 0.4, 0.4)] * 2,
            'unet_c': [curve(0.25, 0.3, 0.3, 0.3)] * 2
        },
        budget=8,
        scores=(0.5, 0.3, 0.2))
    order = ['frrn_a', 'fcn8s_b', 'unet_c']
    plain = SearchDesign(Fraction(1), Fraction(1, 4), eta=3)
    kept = SearchDesign(Fraction(1), Fraction(1, 4), eta=3, keep_first=True)
    assert analysis.search_arguments(live, order, kept)[-1] is True
    # plain: rung 2 keeps fcn8s_b alone (3 * 2 of 3 * 8 iterations); kept:
    # frrn_a goes on to rungs 6 and 8 beside it (3 * 2 + 2 * 6)
    assert analysis.design_point(live, order, plain)[::2] == pytest.approx(
        (6 / 24, 20.0))
    assert analysis.design_point(live, order, kept)[::2] == pytest.approx(
        (18 / 24, 0.0))
    assert analysis.search_picks(live, order,
                                 kept) == [('frrn_a', 'frrn_a', 0.0)] * 2


def test_the_tools_defaults_are_the_design_the_committed_study_chooses():
    """select_source.py's defaults (width, eta and the rungs' shares of the
    full budget) are what the study's rule chooses on the committed
    records: a new run that moves the choice fails here until the defaults
    and docs follow."""
    records = committed_records()
    design = analysis.choose_design(
        analysis.tools_points(
            analysis.longer_records(records), analysis.search_designs()))
    assert design == SearchDesign(DEFAULT_WIDTH, *DEFAULT_RUNGS, DEFAULT_ETA)


def test_the_prior_share_is_learnt_on_the_other_scenarios_runs():
    """The share is what ranks the history best, each past run's prior
    learnt without its own scenario: a family that always wins makes the
    prior outweigh a backwards metric; a winner that changes with the
    scenario leaves the metric alone."""
    steady = {
        f'{s}-seed0': three_families('frrn_b', (0.5, 0.1, 0.9))
        for s in 'abc'
    }  # NCE exactly backwards, FRRN > FCN-8s > UNet on every scenario
    assert analysis.learnt_share(analysis.other_scenarios(steady,
                                                          'c-seed0')) == 0.75
    changing = {
        f'{s}-seed0': three_families(best, scores)
        for s, best, scores in [('a', 'frrn_b', (
            0.5, 0.9, 0.1)), ('b', 'unet_c',
                              (0.5, 0.1,
                               0.9)), ('c', 'fcn8s_a', (0.9, 0.5, 0.1))]
    }  # NCE right; the best family changes
    assert analysis.learnt_share(
        analysis.other_scenarios(changing, 'c-seed0')) == 0.0
    assert analysis.learnt_share([]) == 0.0


def test_held_criteria_are_a_runs_criteria_with_those_scenarios_out():
    """The nested leave-one-scenario-out's criteria are each run's own
    with its scenario and the held ones out of the priors' history, one
    computation per set held out however it is named."""
    names = ['fcn8s_near-fine', 'frrn-b_mid-coarse', 'unet_far-fine']
    ends = dict(
        a=(0.5, 0.3, 0.1),
        b=(0.1, 0.3, 0.5),
        c=(0.3, 0.5, 0.1),
        d=(0.5, 0.1, 0.3))  # each scenario's best family differs

    def run(end):
        curves = {n: [curve(0.05, e)] for n, e in zip(names, end)}
        return record(curves, scores=(0.5, 0.9, 0.1))

    records = {f'{s}-seed0': run(end) for s, end in ends.items()}
    criteria = analysis.held_criteria(records, ['nce'])
    for held in [(), ('b', ), ('b', 'c')]:
        assert criteria('a-seed0', *held) == analysis.run_criteria(
            records['a-seed0'], ['nce'],
            analysis.other_scenarios(records, 'a-seed0', *held))
    assert criteria('a-seed0', 'c-seed0', 'b') is criteria('a-seed0', 'b', 'c')
    assert criteria('a-seed0', 'a') is criteria('a-seed0')
    choices = analysis.choice_runs(['a-seed0', 'b-seed0', 'c-seed0'], criteria,
                                   'd')
    assert choices['b'] == [('a', criteria('a-seed0', 'b', 'd')),
                            ('c', criteria('c-seed0', 'b', 'd'))]


def test_the_tools_history_share_is_the_share_the_committed_study_learns():
    """score_sources.py's default --architecture-share is the share the
    study learns on every committed run (its longer truth): a new run that
    moves it fails here until the default and docs follow."""
    records = analysis.longer_records(committed_records())
    assert analysis.learnt_share(
        analysis.other_scenarios(records)) == HISTORY_PRIOR_SHARE


def test_the_history_file_gives_the_tools_the_gains_the_study_learns(tmp_path):
    """select_source.py --gain-history on the study's history file scales a
    rung as the study's scaled designs do: every finetuning seed's curve
    of every run's longest truth."""
    from mmseg_trf.apis.scoring import read_gain_history
    records = committed_records(6)
    path = tmp_path / 'architecture_history.yaml'
    analysis.write_history(records, str(path))
    tools = read_gain_history(str(path))
    study = analysis.history_gains(
        list(analysis.longer_records(records).values()))
    assert tools.runs.keys() == study.runs.keys()
    for family in study.runs:
        assert len(tools.runs[family]) == len(study.runs[family])
        for share in (Fraction(1, 20), Fraction(3, 20), Fraction(1, 2)):
            assert tools.gain(family, share) == pytest.approx(
                study.gain(family, share), rel=1e-2)


def test_design_shares_resample_whole_scenarios():
    """Scenario x favours design a, y favours b; the worst-run rule picks
    b on both, a only when a resample draws x twice (a quarter of the
    draws). A design that costs over a quarter is never chosen."""
    cheap_a = SearchDesign(Fraction(1, 2), Fraction(1, 10), Fraction(1, 2))
    cheap_b = SearchDesign(Fraction(1, 2), Fraction(3, 20), Fraction(1, 2))
    dear = SearchDesign(Fraction(1), Fraction(1, 2), Fraction(1))

    def run(a, b):  # (iterations, wall time, regret) per design
        return {
            cheap_a: (0.1, 0.1, a),
            cheap_b: (0.1, 0.1, b),
            dear: (0.2, 0.5, 0.0)
        }

    points = {
        'x-seed0': run(0.0, 2.0),
        'x-seed1': run(0.0, 1.0),
        'y-seed0': run(3.0, 0.0)
    }
    assert analysis.choose_design(points, 'worst') == cheap_b
    shares = analysis.design_shares(points, 'worst', draws=4000)
    assert list(shares) == [cheap_b, cheap_a]
    assert shares[cheap_a] == pytest.approx(0.25, abs=0.03)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_the_worst_scenario_rule_judges_a_scenario_by_its_mean_run(
        one_bad_run):
    """One bad run of a scenario sinks a design by the worst-run rule; by
    the worst-scenario rule it counts as that scenario's mean over its
    runs, on every run or on resamples of the scenarios. A design over a
    quarter in any run is never chosen."""
    spiky, steady, dear = (one_bad_run.spiky, one_bad_run.steady,
                           one_bad_run.dear)
    points = one_bad_run.points
    # worst run: spiky 3.0, steady 2.0; worst scenario: spiky x's 1.5,
    # steady x's 2.0; mean: spiky 1.33, steady 1.5 (the protocol's rule);
    # dear loses nothing but costs 0.3 on y
    assert analysis.choose_design(points, 'worst') == steady
    assert analysis.choose_design(points) == analysis.choose_design(
        points, 'mean') == spiky
    assert analysis.choose_design(points, 'scenario') == spiky
    assert analysis.closest_design(points)[:3] == (spiky, 1.5, 'x')
    # at any cost, dear loses nothing anywhere, at up to 0.3
    dear_point = analysis.closest_design(points, math.inf)
    assert dear_point[:2] == (dear, 0.0)
    assert dear_point[3] == pytest.approx(0.3)
    assert analysis.closest_designs(points)['closest_any'] == dear_point
    # resampled: x and y -> spiky; x twice -> dear, affordable without y;
    # y twice -> steady
    shares = analysis.design_shares(points, 'scenario', draws=4000)
    assert shares[spiky] == pytest.approx(0.5, abs=0.03)
    assert shares[dear] == pytest.approx(0.25, abs=0.03)
    assert shares[steady] == pytest.approx(0.25, abs=0.03)
    points['y-seed0'] = one_bad_run.run(1.0, 0.5)  # dear now affordable
    assert analysis.choose_design(points, 'scenario') == dear


def test_the_learnt_share_reads_the_fusion_the_study_compares():
    """The repetitions the prior's share is learnt on are the study's own
    z-score fusion of the run, repetition by repetition, in the order of
    its truth; a run of the same scenario and truth as an earlier test's
    but other scores is not read from the earlier run's cache."""
    run = dict(three_families('frrn_b', (0.5, 0.1, 0.9)), scenario='a')
    for source, values in zip(run['ranking']['sources'],
                              ([0.5, 0.4], [0.1, 0.6], [0.9, 0.2])):
        source['metrics']['nce']['values'] = values
    fused = {
        s.name: s.metrics['fusion-zscore'].values
        for s in analysis.scored_sources(run, [])
    }
    assert analysis.fused_repetitions(run).tolist() == [
        pytest.approx(fused[name]) for name in run['truth']
    ]
    assert fused['fcn8s_a'] != pytest.approx(fused['frrn_b'])
