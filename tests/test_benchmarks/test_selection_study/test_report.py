from fractions import Fraction

from benchmarks.selection_study import protocol, report
from benchmarks.selection_study.analysis import longer_records
from benchmarks.selection_study.parts import reproduction_line
from mmseg_trf.evaluation import SearchDesign
from tests.test_benchmarks.test_selection_study.hand_made import curve, record


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
    text = '\n'.join(report.probe_lines(records, probes, ['nce']))
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
    assert report.probe_lines(records, {}, ['nce']) == []
    # a probe rebuilt elsewhere says so, and the study's record stays
    elsewhere = dict(study, truth=dict(study['truth'], **{c: 0.06}))
    text = '\n'.join(
        report.probe_lines(
            dict(records, **{'x-seed0': elsewhere}), probes, ['nce']))
    assert ('the probe\'s 4-iteration truth differs by up to 1.0 points '
            'from the study\'s record (its sources rebuilt on another '
            'machine)') in text
    # one whose scenario's sources changed since does not say "elsewhere"
    fewer = dict(study, truth={a: 0.2, b: 0.4})
    text = '\n'.join(
        report.probe_lines(
            dict(records, **{'x-seed0': fewer}), probes, ['nce']))
    assert ('covers other sources than the study\'s record (the '
            'scenario\'s sources changed since the study\'s run)') in text
    assert 'the record stays' in reproduction_line(
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
            for key, _ in protocol.DESIGN_RULES.values()
        })
    analysis = dict(loso={'x': dict(chosen='nce')}, designs=designs)
    lines = report.probe_search_lines(longer, probes, analysis)
    # nce picks a: wrong at 8, right at 16; finetuning every source, or
    # halving from 4, picks b on either seed: right at 8, and at 16 10 and
    # 20 points behind the other seed's a
    assert '| metric: chosen metric | 20.0 -> 0.0 |' in lines
    assert '| finetune all, 1 seed | 0.0 -> 15.0 |' in lines
    for row in (protocol.WORST_RULE_ROW, protocol.MEAN_RULE_ROW,
                protocol.SCENARIO_RULE_ROW, protocol.KEPT_ROW,
                protocol.TOOLS_ROW):
        assert f'| {row} | 0.0 -> 15.0 |' in lines
    assert report.probe_search_lines(longer, {}, analysis) == []


def test_the_scenario_table_says_who_meets_the_goal_and_at_what_cost():
    """Per scenario, the mean over its runs; the goal is under 1 point on
    every scenario at most a quarter of the cost, and the table also says
    what meets it at any cost and where the noise floor is worst."""
    analysis = dict(
        cost_runs=['x-seed0', 'x-seed1', 'y-seed0'],
        costs={
            # 1.5 on x on average: fails the goal though both runs are cheap
            'cheap': [(0.1, 0.1, 0.0), (0.1, 0.2, 3.0), (0.1, 0.1, 0.5)],
            # under 1 everywhere, but y costs half of everything
            'dear': [(0.2, 0.2, 0.5), (0.2, 0.2, 0.5), (0.5, 0.5, 0.9)],
            'good': [(0.2, 0.25, 0.9), (0.2, 0.2, 0.9), (0.2, 0.2, 0.0)],
            protocol.NOISE_FLOOR: [(1.0, 1.0, 0.0), (1.0, 1.0, 0.4),
                                   (1.0, 1.0, 1.2)]
        })
    lines = report.scenario_cost_table(analysis)
    assert '| cheap | 1.5 (0.15) | 0.5 (0.10) | 1.5 |' in lines
    assert lines[-1] == (
        'Under 1 point on every scenario at most a quarter of the cost '
        '(iterations and wall time): good. At any cost: dear, good; '
        f'"{protocol.NOISE_FLOOR}", the yardstick\'s noise floor, loses up '
        'to 1.2 points on a scenario (y).')


def test_the_report_names_the_protocols_rule_and_the_others_beside_it():
    """The design paragraph says which rule the protocol chooses by and
    gives each other rule's choices once, beside it."""
    chosen = SearchDesign(Fraction(1, 2), Fraction(1, 10), Fraction(1, 2))
    other = SearchDesign(Fraction(1), Fraction(1, 2), Fraction(1))
    designs = {
        key: dict(left_out={'x': other}, all=other, tools=other)
        for key, _ in protocol.DESIGN_RULES.values()
    }
    designs.update(
        left_out={'x': chosen},
        all=chosen,
        tools=chosen,
        simulated=[chosen, other],
        tools_shares={chosen: 1.0},
        closest=(chosen, 1.5, 'x', 0.2),
        closest_any=(other, 0.5, 'y', 0.6))
    text = '\n'.join(report.design_lines(designs, 'use', False))
    words = dict(protocol.RULE_WORDS)
    name, criterion, _ = words.pop(protocol.PROTOCOL_RULE)
    assert f"by {name}, the protocol's" in text
    assert f'- without x: {chosen.name}' in text
    assert f'By {name} instead' not in text
    for other_name, other_criterion, _ in words.values():
        assert text.count(f'By {other_name} instead ({other_criterion};') == 1
    assert text.count(f'the tools follow {name}') == len(words)
    # how near the goal the designs come in hindsight, affordable or not
    assert (f'the affordable design with the lowest worst scenario, '
            f'{chosen.name}, loses 1.5 points on x (at most 20% of the '
            f'cost); at any cost, {other.name} loses 0.5 points on y (at '
            'most 60% of the cost).') in text


def test_the_candidate_search_is_adopted_only_if_it_holds_on_every_test(
        monkeypatch):
    """The registered candidate holds on a test where it loses under 1 point
    or no more than the protocol's search; it is adopted once every test is
    stored and it holds on each, and refused as soon as one fails; a
    decision recorded when the tests were stored stays, with today's
    reading beside it."""
    monkeypatch.setattr(report, 'FIXED_SEARCH_TESTS', ('x-seed1', 'y-seed0'))
    monkeypatch.setattr(report, 'CANDIDATE_VERDICT', '')
    protocol_row = protocol.DESIGN_RULES[protocol.PROTOCOL_RULE][1]
    criteria = dict(m=dict(spearman=0.5, regret=2.0))

    def analysis(runs, candidate, searched):
        return dict(
            cost_runs=runs,
            runs=[(run.split('-')[0], criteria) for run in runs],
            loso=dict(x=dict(chosen='m'), y=dict(chosen='m')),
            costs={
                protocol.FIXED_SEARCH_ROW: [(0.1, 0.1, r) for r in candidate],
                protocol_row: [(0.1, 0.2, r) for r in searched]
            })

    # 1.5 against 2.0 holds; one test still to come
    lines = report.candidate_test_lines(
        analysis(['x-seed0', 'x-seed1'], [9, 1.5], [0, 2.0]))
    assert '| x-seed1 | 0.50 / 2.0 | 1.5 (0.10) | 2.0 (0.20) | yes |' in lines
    assert not any(line.startswith('| x-seed0') for line in lines)
    assert lines[-2] == 'The candidate: waiting for y-seed0.'
    # 0.9 holds though the protocol's search lost nothing
    both = ['x-seed1', 'y-seed0']
    lines = report.candidate_test_lines(analysis(both, [1.5, 0.9], [2.0, 0.0]))
    assert lines[-2] == 'The candidate: adopted: it holds on every test.'
    # 1.2 against 0.5 fails the rule
    lines = report.candidate_test_lines(analysis(both, [1.5, 1.2], [2.0, 0.5]))
    assert '| y-seed0 | 0.50 / 2.0 | 1.2 (0.10) | 0.5 (0.20) | no |' in lines
    assert lines[-2] == 'The candidate: not adopted: it fails the rule.'
    # refused when decided, holding on a less noisy truth later
    monkeypatch.setattr(report, 'CANDIDATE_VERDICT', 'refused then')
    lines = report.candidate_test_lines(analysis(both, [1.5, 0.9], [2.0, 0.0]))
    assert lines[-2] == (
        'The candidate: refused then; final when made. On the tests\' truth '
        'of today (the table) the rule reads "adopted: it holds on every '
        'test", which does not reopen it.')


def test_the_search_losses_are_traced_to_the_sources_they_pick():
    """On the protocol's worst scenario each simulated search (one per
    finetuning seed) is judged by the other seed, and each picked source
    carries its share of the scenario's mean regret."""

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
            protocol.DESIGN_RULES[protocol.PROTOCOL_RULE][1]:
            [(0.1, 0.1, 12.5), (0.1, 0.1, 0.0)]
        },
        designs=dict(left_out=dict(x=design, y=design)),
        loso=dict(x=dict(chosen='nce'), y=dict(chosen='nce')))
    lines = report.search_loss_lines({'x-seed0': x, 'y-seed0': y}, analysis)
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
    assert report.search_loss_lines({'x-seed0': x}, dict(loso={})) == []


def test_a_third_seed_judges_the_floor_metric_and_search_again():
    """Two sources whose first two finetuning seeds disagree, the third
    siding with seed 0: with two seeds each seed's pick is 20 points wrong
    by the other; with three the mean of the other two ties them but for
    seed 1's pick."""

    def flat(*ends):
        return [curve(*[end] * 4) for end in ends]

    x = record({'a': flat(0.5, 0.3, 0.5), 'b': flat(0.3, 0.5, 0.3)}, budget=8)
    y = record({'c': flat(0.3, 0.3), 'd': flat(0.2, 0.2)}, budget=8)
    design = SearchDesign(Fraction(1), Fraction(1, 4))
    analysis = dict(
        designs=dict(left_out=dict(x=design, y=design)),
        loso=dict(x=dict(chosen='nce'), y=dict(chosen='nce')))
    lines = report.added_seed_lines({
        'x-seed0': x,
        'x-seed1': x,
        'y-seed0': y
    }, analysis)
    assert lines[0] == '## A less noisy truth: finetuning seeds added'
    rows = [line for line in lines if line.startswith('| x')]
    assert [row.split(' | ')[0] for row in rows
            ] == ['| x-seed0', '| x-seed1', '| x, mean over its 2 runs']
    # floor, metric (NCE picks a: wrong by seed 1 alone), search (every
    # rung flat: one seed's full finetuning)
    for row in rows:
        assert row.endswith('| 20.0 -> 6.7 | 10.0 -> 0.0 | 20.0 -> 6.7 |')
    assert rows[0].startswith('| x-seed0 | 3 | ')
    # no run with seeds added: no section
    assert report.added_seed_lines({'y-seed0': y}, analysis) == []
