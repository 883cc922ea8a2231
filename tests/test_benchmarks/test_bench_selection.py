import argparse
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from benchmarks import bench_selection
from benchmarks.bench_selection import (RECORDS, check_same_sources,
                                        choose_design, design_point,
                                        design_shares, first_seeds,
                                        halving_point, history_gains,
                                        longer_records, seeds_of, strategies,
                                        tools_points, with_added_seeds)
from mmseg_trf.apis.report import HISTORY_PRIOR_SHARE
from mmseg_trf.benchmark.search import (DEFAULT_ETA, DEFAULT_RUNGS,
                                        DEFAULT_WIDTH)
from mmseg_trf.evaluation import SearchDesign


def record(curves, budget=4, scores=(0.5, 0.2), own=(0.6, 0.3)):
    """A hand-made record: per source its curves (one per seed)."""
    names = list(curves)

    def mean_best(runs, iters=None):
        return sum(
            max(m for it, m in c if iters is None or it <= iters)
            for c in runs) / len(runs)

    return dict(
        ranking=dict(sources=[
            dict(
                name=n,
                extract_seconds=1.0,
                metrics=dict(nce=dict(mean=s, seconds=1.0, values=[s] * 2)))
            for n, s in zip(names, scores)
        ]),
        truth={
            n: mean_best(c)
            for n, c in curves.items()
        },
        proxies=dict(short={
            n: mean_best(c, 2)
            for n, c in curves.items()
        }),
        source_miou=dict(zip(names, own)),
        curves=curves,
        finetune_seconds={
            n: 10.0 * len(c)
            for n, c in curves.items()
        },
        budget=budget,
        machine=dict(cpu_capability='AVX512'))


def curve(*mious):
    return [[2 * (i + 1), m] for i, m in enumerate(mious)]


def test_with_added_seeds_pools_every_mean():
    before = record({
        'a': [curve(0.1, 0.4), curve(0.2, 0.2)],
        'b': [curve(0.3, 0.3), curve(0.1, 0.5)]
    })
    added = record({'a': [curve(0.7, 0.1)], 'b': [curve(0.0, 0.1)]})
    pooled = with_added_seeds(before, added, [0, 1, 2])
    assert seeds_of(pooled) == 3
    assert pooled['curves']['a'][2] == curve(0.7, 0.1)
    # the truth is the mean best over the three seeds, not of two means
    assert pooled['truth'] == pytest.approx(dict(a=1.3 / 3, b=0.9 / 3))
    assert pooled['proxies']['short'] == pytest.approx(
        dict(a=1.0 / 3, b=0.4 / 3))
    assert pooled['finetune_seconds'] == pytest.approx(
        dict(a=50 / 3, b=50 / 3))
    assert pooled['finetune_seeds'] == [0, 1, 2]
    assert pooled['ranking'] is before['ranking']
    assert seeds_of(before) == 2  # the stored record is not changed
    # the first two seeds give back the record's own truth
    assert first_seeds(pooled, 2)['truth'] == pytest.approx(before['truth'])


def test_with_added_seeds_pools_the_longer_truth():
    before = record({'a': [curve(0.1), curve(0.3)], 'b': [curve(0.2)] * 2})
    added = record({'a': [curve(0.5)], 'b': [curve(0.2)]})
    before['continued'] = dict(
        budget=8,
        curves=before['curves'],
        truth=dict(a=0.2, b=0.2),
        finetune_seconds=dict(a=20.0, b=20.0))
    added['continued'] = dict(
        budget=8,
        curves=added['curves'],
        truth=dict(a=0.5, b=0.2),
        finetune_seconds=dict(a=50.0, b=20.0))
    pooled = with_added_seeds(before, added, [0, 1, 2])
    assert pooled['continued']['budget'] == 8
    assert len(pooled['continued']['curves']['a']) == 3
    assert pooled['continued']['truth'] == pytest.approx(dict(a=0.3, b=0.2))
    assert pooled['continued']['finetune_seconds']['a'] == pytest.approx(30)


def test_a_probe_ranks_the_studys_truths_against_a_much_longer_one():
    # b is ahead at 4 iterations, a overtakes it by 8, c stays last: the
    # probe's curves continue the study's, so its truth at 4 is the
    # study's (the demo names its sources <arch>_<domain>-<task>)
    a, b, c = 'fcn8s_near-fine', 'unet_far-fine', 'segnet_far-coarse'
    probe_curves = {
        a: [curve(0.1, 0.2, 0.3, 0.6),
            curve(0.1, 0.2, 0.4, 0.6)],
        b: [curve(0.3, 0.4, 0.4, 0.4),
            curve(0.3, 0.4, 0.4, 0.5)],
        c: [curve(0.0, 0.1, 0.1, 0.1),
            curve(0.0, 0.0, 0.1, 0.1)]
    }
    study = record(
        {
            n: [run[:2] for run in runs]
            for n, runs in probe_curves.items()
        },
        scores=(0.5, 0.2, 0.1),
        own=(0.6, 0.3, 0.2))
    probed = dict(
        study,
        continued=dict(
            budget=8,
            curves=probe_curves,
            truth={
                a: 0.6,
                b: 0.45,
                c: 0.1
            },
            finetune_seconds=dict.fromkeys(probe_curves, 1.0)))
    other = record({n: [curve(0.1)] * 2
                    for n in probe_curves},
                   scores=(0.5, 0.2, 0.1),
                   own=(0.6, 0.3, 0.2))
    records = {'x-seed0': study, 'y-seed0': other}
    probes = longer_records({'x-seed0': probed})
    text = '\n'.join(bench_selection.probe_lines(records, probes, ['nce']))
    assert ('the 4-iteration truth against the 8-iteration one: Spearman '
            '0.500; its best unet_far-fine is 15.0 points below the longer '
            'truth\'s best fcn8s_near-fine') in text
    assert '| fcn8s_near-fine | 20.0 | 60.0 |' in text
    assert '| unet_far-fine | 40.0 | 45.0 |' in text
    # nce scores a over b over c: wrong at the study's budget, right at
    # the probe's
    assert '| nce | 0.50 / 20.0 | 1.00 / 0.0 |' in text
    assert 'the probe\'s 4-iteration truth is the study\'s record' in text
    # the other run ties every family, so its history cannot rank them
    assert '| prior: architecture | n/a | n/a |' in text
    assert bench_selection.probe_lines(records, {}, ['nce']) == []
    # a probe rebuilt elsewhere says so, and the study's record stays
    elsewhere = dict(study, truth=dict(study['truth'], **{c: 0.06}))
    text = '\n'.join(
        bench_selection.probe_lines(
            dict(records, **{'x-seed0': elsewhere}), probes, ['nce']))
    assert ('the probe\'s 4-iteration truth differs by up to 1.0 points '
            'from the study\'s record (its sources rebuilt on another '
            'machine)') in text
    # one whose scenario's sources changed since does not say "elsewhere"
    fewer = dict(study, truth={a: 0.2, b: 0.4})
    text = '\n'.join(
        bench_selection.probe_lines(
            dict(records, **{'x-seed0': fewer}), probes, ['nce']))
    assert ('covers other sources than the study\'s record (the '
            'scenario\'s sources changed since the study\'s run)') in text
    assert 'the record stays' in bench_selection.reproduction_line(
        'x-seed0', 0.01, study, dict(study, machine='here'), probe=True)


def test_a_probe_judges_the_studys_searches_by_a_much_longer_truth():
    # a is 20 points behind b at the study's 8 iterations and ahead of it
    # at the probe's 16
    a, b = 'fcn8s_near-fine', 'unet_far-fine'
    probe_curves = {
        a: [[(1, 0.1), (4, 0.2), (8, 0.2), (16, 0.6)]] * 2,
        b: [[(1, 0.3), (4, 0.4), (8, 0.4), (16, 0.4)],
            [(1, 0.3), (4, 0.4), (8, 0.4), (16, 0.5)]]
    }
    study = record(
        {
            n: [[p for p in run if p[0] <= 8] for run in runs]
            for n, runs in probe_curves.items()
        },
        budget=8)
    probes = longer_records({
        'x-seed0':
        dict(
            study,
            continued=dict(
                budget=16,
                curves=probe_curves,
                truth={
                    a: 0.6,
                    b: 0.45
                },
                finetune_seconds=dict.fromkeys(probe_curves, 1.0)))
    })
    # another scenario, the history that priors and past gains learn from
    other = record({n: [[(1, 0.1), (8, 0.1)]] * 2
                    for n in probe_curves},
                   budget=8)
    longer = {'x-seed0': study, 'y-seed0': other}
    # every source from half the budget, the better half kept
    design = SearchDesign(Fraction(1), Fraction(1, 2))
    designs = dict(
        left_out={'x': design},
        tools=design,
        **{
            key: dict(left_out={'x': design})
            for key, _ in bench_selection.DESIGN_RULES.values()
        })
    analysis = dict(loso={'x': dict(chosen='nce')}, designs=designs)
    lines = bench_selection.probe_search_lines(longer, probes, analysis)
    # nce picks a: wrong at 8, right at 16; finetuning every source, or
    # halving from 4, picks b on either seed: right at 8, and at 16 10 and
    # 20 points behind the other seed's a
    assert '| metric: chosen metric | 20.0 -> 0.0 |' in lines
    assert '| finetune all, 1 seed | 0.0 -> 15.0 |' in lines
    for row in (bench_selection.WORST_RULE_ROW, bench_selection.MEAN_RULE_ROW,
                bench_selection.SCENARIO_RULE_ROW, bench_selection.TOOLS_ROW):
        assert f'| {row} | 0.0 -> 15.0 |' in lines
    assert bench_selection.probe_search_lines(longer, {}, analysis) == []


def test_added_seeds_need_the_same_sources_and_budgets():
    before = record({'a': [curve(0.1)] * 2, 'b': [curve(0.2)] * 2})
    other_weights = record({
        'a': [curve(0.1)],
        'b': [curve(0.2)]
    },
                           own=(0.6, 0.31))
    with pytest.raises(SystemExit, match='own mIoU'):
        with_added_seeds(before, other_weights, [0, 1, 2])
    other_scores = record({
        'a': [curve(0.1)],
        'b': [curve(0.2)]
    },
                          scores=(0.5, 0.2001))
    with pytest.raises(SystemExit, match='metric scores'):
        check_same_sources(before, other_scores)
    longer = record({'a': [curve(0.1)], 'b': [curve(0.2)]}, budget=6)
    with pytest.raises(SystemExit, match='other budgets'):
        with_added_seeds(before, longer, [0, 1, 2])
    same = record({'a': [curve(0.1)], 'b': [curve(0.2)]})
    with pytest.raises(ValueError, match='2 seeds named'):
        with_added_seeds(before, same, [0, 1])


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
        score: halving_point(runs, 0, ['a', 'b'], [8], 2, score)[2]
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
    gains = history_gains([past])
    assert gains.gain('frrn', 1 / 8) == pytest.approx(4.0)
    plain = halving_point(live, 0, ['fcn8s_a', 'frrn_b'], [1, 8], 2)
    scaled = halving_point(
        live, 0, ['fcn8s_a', 'frrn_b'], [1, 8], 2, gains=gains)
    assert (plain[2], scaled[2]) == pytest.approx((20.0, 0.0))
    design = SearchDesign(Fraction(1), Fraction(1, 8), scaled=True)
    assert design_point(live, ['fcn8s_a', 'frrn_b'], design,
                        gains)[2] == pytest.approx(0.0)
    with pytest.raises(ValueError, match='history'):
        design_point(live, ['fcn8s_a', 'frrn_b'], design)
    assert history_gains([]) is None
    # finetuning every source to an eighth, then picking by the scaled score
    points = strategies(live, ['fcn8s_a', 'frrn_b'], 'nce', 2, gains)
    assert points['finetune all to 1 it'][2] == pytest.approx(20.0)
    assert points['finetune all to 1 it, scaled by past gains'][2] == \
        pytest.approx(0.0)
    assert 'finetune all, 1 seed, scaled by past gains' not in points


def test_the_designs_compared_include_one_the_tool_runs_without_history():
    script = Path(__file__).parents[2] / 'benchmarks' / 'bench_selection.py'
    out = subprocess.run([
        sys.executable,
        str(script), '--only', 'none', '--rung-scores', 'gain'
    ],
                         capture_output=True,
                         text=True)
    assert out.returncode == 2 and 'needs best or level too' in out.stderr


def committed_records(count=None) -> dict:
    """The study's committed records (the first ``count`` by name): run ->
    record."""
    records = {}
    for path in sorted(Path(RECORDS).glob('*.json'))[:count]:
        with open(path) as f:
            records[path.stem] = json.load(f)
    return records


def test_the_tools_defaults_are_the_design_the_committed_study_chooses():
    """select_source.py's defaults (width, eta and the rungs' shares of the
    full budget) are what the study's rule chooses on the committed
    records: a new run that moves the choice fails here until the defaults
    and docs follow."""
    from benchmarks.bench_selection import search_designs
    records = committed_records()
    design = choose_design(
        tools_points(longer_records(records), search_designs()))
    assert design == SearchDesign(DEFAULT_WIDTH, *DEFAULT_RUNGS, DEFAULT_ETA)


def three_families(best, scores):
    """A hand-made run of an FCN-8s, an FRRN and a UNet: ``best`` ends on
    top, the other two below in that order; ``scores`` their NCE."""
    names = ['fcn8s_a', 'frrn_b', 'unet_c']
    ends = dict(zip([best] + [n for n in names if n != best], (0.5, 0.3, 0.1)))
    return record({n: [curve(0.05, ends[n])] for n in names}, scores=scores)


def test_the_prior_share_is_learnt_on_the_other_scenarios_runs():
    """The share is what ranks the history best, each past run's prior
    learnt without its own scenario: a family that always wins makes the
    prior outweigh a backwards metric; a winner that changes with the
    scenario leaves the metric alone."""
    steady = {
        f'{s}-seed0': three_families('frrn_b', (0.5, 0.1, 0.9))
        for s in 'abc'
    }  # NCE exactly backwards, FRRN > FCN-8s > UNet on every scenario
    assert bench_selection.learnt_share(
        bench_selection.other_scenarios(steady, 'c-seed0')) == 0.75
    changing = {
        f'{s}-seed0': three_families(best, scores)
        for s, best, scores in [('a', 'frrn_b', (
            0.5, 0.9, 0.1)), ('b', 'unet_c',
                              (0.5, 0.1,
                               0.9)), ('c', 'fcn8s_a', (0.9, 0.5, 0.1))]
    }  # NCE right; the best family changes
    assert bench_selection.learnt_share(
        bench_selection.other_scenarios(changing, 'c-seed0')) == 0.0
    assert bench_selection.learnt_share([]) == 0.0


def test_the_tools_history_share_is_the_share_the_committed_study_learns():
    """score_sources.py's default --architecture-share is the share the
    study learns on every committed run (its longer truth): a new run that
    moves it fails here until the default and docs follow."""
    records = longer_records(committed_records())
    assert bench_selection.learnt_share(
        bench_selection.other_scenarios(records)) == HISTORY_PRIOR_SHARE


def test_the_history_file_gives_the_tools_the_gains_the_study_learns(tmp_path):
    """select_source.py --gain-history on the study's history file scales a
    rung as the study's scaled designs do: every finetuning seed's curve
    of every run's longest truth."""
    from benchmarks.bench_selection import write_history
    from mmseg_trf.apis.scoring import read_gain_history
    records = committed_records(6)
    path = tmp_path / 'architecture_history.yaml'
    write_history(records, str(path))
    tools = read_gain_history(str(path))
    study = history_gains(list(longer_records(records).values()))
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
    assert choose_design(points, 'worst') == cheap_b
    shares = design_shares(points, 'worst', draws=4000)
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
    assert choose_design(points, 'worst') == steady
    assert choose_design(points) == choose_design(points, 'mean') == spiky
    assert choose_design(points, 'scenario') == spiky
    assert bench_selection.closest_design(points) == (spiky, 1.5, 'x')
    # resampled: x and y -> spiky; x twice -> dear, affordable without y;
    # y twice -> steady
    shares = design_shares(points, 'scenario', draws=4000)
    assert shares[spiky] == pytest.approx(0.5, abs=0.03)
    assert shares[dear] == pytest.approx(0.25, abs=0.03)
    assert shares[steady] == pytest.approx(0.25, abs=0.03)
    points['y-seed0'] = one_bad_run.run(1.0, 0.5)  # dear now affordable
    assert choose_design(points, 'scenario') == dear


def test_the_scenario_table_says_who_meets_the_goal_and_at_what_cost():
    """Per scenario, the mean over its runs; the goal is under 1 point on
    every scenario at most a quarter of the cost, and the table also says
    what meets it at any cost and where the noise floor is worst."""
    from benchmarks.bench_selection import NOISE_FLOOR, scenario_cost_table
    analysis = dict(
        cost_runs=['x-seed0', 'x-seed1', 'y-seed0'],
        costs={
            # 1.5 on x on average: fails the goal though both runs are cheap
            'cheap': [(0.1, 0.1, 0.0), (0.1, 0.2, 3.0), (0.1, 0.1, 0.5)],
            # under 1 everywhere, but y costs half of everything
            'dear': [(0.2, 0.2, 0.5), (0.2, 0.2, 0.5), (0.5, 0.5, 0.9)],
            'good': [(0.2, 0.25, 0.9), (0.2, 0.2, 0.9), (0.2, 0.2, 0.0)],
            NOISE_FLOOR: [(1.0, 1.0, 0.0), (1.0, 1.0, 0.4), (1.0, 1.0, 1.2)]
        })
    lines = scenario_cost_table(analysis)
    assert '| cheap | 1.5 (0.15) | 0.5 (0.10) | 1.5 |' in lines
    assert lines[-1] == (
        'Under 1 point on every scenario at most a quarter of the cost '
        '(iterations and wall time): good. At any cost: dear, good; '
        f'"{NOISE_FLOOR}", the yardstick\'s noise floor, loses up to 1.2 '
        'points on a scenario (y).')


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
        for s in bench_selection.scored_sources(run, [])
    }
    assert bench_selection.fused_repetitions(run).tolist() == [
        pytest.approx(fused[name]) for name in run['truth']
    ]
    assert fused['fcn8s_a'] != pytest.approx(fused['frrn_b'])


def test_without_leaves_stored_parts_out_of_the_report():
    from benchmarks.bench_selection import SCENARIOS, study_records
    args = argparse.Namespace(
        scenarios=SCENARIOS[:1],
        seeds=[0, 1],
        only=['none'],
        without=['default-seed1'])
    records, _ = study_records(args, start=0.0)
    assert list(records) == ['default-seed0']


def test_the_report_names_the_protocols_rule_and_the_others_beside_it():
    """The design paragraph says which rule the protocol chooses by and
    gives each other rule's choices once, beside it."""
    protocol = SearchDesign(Fraction(1, 2), Fraction(1, 10), Fraction(1, 2))
    other = SearchDesign(Fraction(1), Fraction(1, 2), Fraction(1))
    designs = {
        key: dict(left_out={'x': other}, all=other, tools=other)
        for key, _ in bench_selection.DESIGN_RULES.values()
    }
    designs.update(
        left_out={'x': protocol},
        all=protocol,
        tools=protocol,
        simulated=[protocol, other],
        tools_shares={protocol: 1.0},
        closest=(protocol, 0.5, 'x'))
    text = '\n'.join(bench_selection.design_lines(designs, 'use', False))
    words = dict(bench_selection.RULE_WORDS)
    name, criterion, _ = words.pop(bench_selection.PROTOCOL_RULE)
    assert f"by {name}, the protocol's" in text
    assert f'- without x: {protocol.name}' in text
    assert f'By {name} instead' not in text
    for other_name, other_criterion, _ in words.values():
        assert text.count(f'By {other_name} instead ({other_criterion};') == 1
    assert text.count(f'the tools follow {name}') == len(words)


def test_the_candidate_search_is_adopted_only_if_it_holds_on_every_test(
        monkeypatch):
    """The registered candidate holds on a test where it loses under 1 point
    or no more than the protocol's search; it is adopted once every test is
    stored and it holds on each, and refused as soon as one fails."""
    from benchmarks.bench_selection import (DESIGN_RULES, FIXED_SEARCH_ROW,
                                            PROTOCOL_RULE,
                                            candidate_test_lines)
    monkeypatch.setattr(bench_selection, 'FIXED_SEARCH_TESTS',
                        ('x-seed1', 'y-seed0'))
    protocol = DESIGN_RULES[PROTOCOL_RULE][1]
    criteria = dict(m=dict(spearman=0.5, regret=2.0))

    def analysis(runs, candidate, searched):
        return dict(
            cost_runs=runs,
            runs=[(run.split('-')[0], criteria) for run in runs],
            loso=dict(x=dict(chosen='m'), y=dict(chosen='m')),
            costs={
                FIXED_SEARCH_ROW: [(0.1, 0.1, r) for r in candidate],
                protocol: [(0.1, 0.2, r) for r in searched]
            })

    # 1.5 against 2.0 holds; one test still to come
    lines = candidate_test_lines(
        analysis(['x-seed0', 'x-seed1'], [9, 1.5], [0, 2.0]))
    assert '| x-seed1 | 0.50 / 2.0 | 1.5 (0.10) | 2.0 (0.20) | yes |' in lines
    assert not any(line.startswith('| x-seed0') for line in lines)
    assert lines[-2] == 'The candidate: waiting for y-seed0.'
    # 0.9 holds though the protocol's search lost nothing
    both = ['x-seed1', 'y-seed0']
    lines = candidate_test_lines(analysis(both, [1.5, 0.9], [2.0, 0.0]))
    assert lines[-2] == 'The candidate: adopted: it holds on every test.'
    # 1.2 against 0.5 fails the rule
    lines = candidate_test_lines(analysis(both, [1.5, 1.2], [2.0, 0.5]))
    assert '| y-seed0 | 0.50 / 2.0 | 1.2 (0.10) | 0.5 (0.20) | no |' in lines
    assert lines[-2] == 'The candidate: not adopted: it fails the rule.'


def test_the_search_losses_are_traced_to_the_sources_they_pick():
    """On the protocol's worst scenario each simulated search (one per
    finetuning seed) is judged by the other seed, and each picked source
    carries its share of the scenario's mean regret."""
    from benchmarks.bench_selection import (DESIGN_RULES, PROTOCOL_RULE,
                                            search_loss_lines)

    # seed 0 keeps a ahead on every rung, seed 1 keeps b ahead; each seed's
    # full finetuning names the other source best
    x = record(
        {
            'a': [curve(0.4, 0.45, 0.5, 0.5),
                  curve(0.3, 0.35, 0.4, 0.4)],
            'b': [curve(0.2, 0.25, 0.3, 0.3),
                  curve(0.35, 0.4, 0.45, 0.45)]
        },
        budget=8)
    y = record({'c': [curve(0.3)] * 2, 'd': [curve(0.2)] * 2}, budget=8)
    design = SearchDesign(Fraction(1), Fraction(1, 4))
    analysis = dict(
        cost_runs=['x-seed0', 'y-seed0'],
        costs={
            DESIGN_RULES[PROTOCOL_RULE][1]: [(0.1, 0.1, 12.5), (0.1, 0.1, 0.0)]
        },
        designs=dict(left_out=dict(x=design, y=design)),
        loso=dict(x=dict(chosen='nce'), y=dict(chosen='nce')))
    lines = search_loss_lines({'x-seed0': x, 'y-seed0': y}, analysis)
    assert lines[0] == "### Where the protocol's search loses most"
    assert '(12.5 points)' in lines[2]
    assert '| x-seed0 | 0 | a | b | 5.0 |' in lines
    assert '| x-seed0 | 1 | b | a | 20.0 |' in lines
    assert lines[-2].startswith(
        "Each picked source's share of the x regret (times picked of 2, "
        'points): b 1, 10.0; a 1, 2.5. Its three best sources end within '
        '7.5 to 7.5 points')
    assert lines[-2].endswith('differ by 10.0 to 15.0 points.')
    # one scenario: nothing left out, no section (as main passes it)
    assert search_loss_lines({'x-seed0': x}, dict(loso={})) == []
