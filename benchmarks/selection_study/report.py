"""The study's report: its Markdown lines, tables and regret-cost
figures."""
import json
import math
import os.path as osp
import sys

import numpy as np

from .analysis import (architecture, design_point, first_seeds, goal_cost,
                       history_gains, longer_costs, longer_records,
                       metric_order, other_scenarios, run_costs, run_criteria,
                       scenario_of, search_picks, seeds_of, strategies,
                       top1_regret, top_closeness, truth_agreement)
from .parts import gap_words, truth_gap
from .protocol import (ARCH_LEARNT, CANDIDATE_VERDICT, COST_YARDSTICK,
                       CRITERIA, DESIGN_KINDS, DESIGN_RULES, DOCS_FIGURES,
                       DOCS_REPORT, FIXED_SEARCH_REGISTERED, FIXED_SEARCH_ROW,
                       FIXED_SEARCH_TESTS, GOAL_COST, HISTORY_CANDIDATES,
                       LEARNT_SHARE_REGISTERED, LONGER_TOOLS_USE, NOISE_FLOOR,
                       NOT_GRADED, PROTOCOL_RULE, REGISTERED, RULE_WORDS,
                       SCORE_WORDS, TOOLS_ORDER, TOOLS_USE)


def agreement_line(run: str, budget: int, truth: dict, longer_budget: int,
                   longer: dict) -> str:
    """How a run's truth at ``budget`` ranks against its truth at
    ``longer_budget``, and what its best source loses there."""
    rho, pick, best = truth_agreement(truth, longer)
    return (f'- {run}: the {budget}-iteration truth against the '
            f'{longer_budget}-iteration one: Spearman {rho:.3f}; ' +
            ('the same best source' if pick == best else
             f'its best {pick} is {top1_regret(longer, pick):.1f} points '
             f'below the longer truth\'s best {best}'))


def plateau_lines(records: dict) -> list:
    """The plateau rule per run, how far the ranking still moves in the
    budget's last quarter (Spearman between the truths at 3/4 of the
    budget and at the end, and whether the best source changes), and how
    well the finetuning seeds' rankings agree (the most a metric's
    Spearman can be read to)."""
    from mmseg_trf.evaluation import plateau, seed_agreement, truth_at
    lines = [
        '| run | budget | plateaued sources | seed noise (points) | '
        'largest last-quarter gain (points) | converged | ranking at 3/4 '
        'vs full: Spearman | same best | seeds agree: Spearman |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    for run, record in records.items():
        verdict = plateau(record['curves'])
        budget = record['budget']
        early = truth_at(record['curves'], 0.75 * budget)
        rho, early_best, best = truth_agreement(
            early, truth_at(record['curves'], budget))
        same = early_best == best
        lines.append(
            f"| {run} | {budget} | "
            f"{sum(verdict.plateaued.values())}/{len(verdict.plateaued)} | "
            f'{100 * verdict.noise:.2f} | '
            f'{100 * max(verdict.gains.values()):.2f} | '
            f"{'yes' if verdict.converged else 'no'} | {rho:.3f} | "
            f"{'yes' if same else 'no'} | "
            f"{seed_agreement(record['curves'], budget):.3f} |")
    return lines


def continued_lines(records: dict, metrics: list, analysis: dict) -> list:
    """The truth at a longer budget where a run has one (``--continue-truth``):
    its plateau rule, its agreement with the study's truth, every method's
    Spearman and regret against both, and regret against cost on the
    longer budget."""
    checked = {run: r for run, r in records.items() if 'continued' in r}
    if not checked:
        return []
    longer = longer_records(records)
    lines = [
        '## The truth at a longer budget', '',
        'The ground-truth runs of some parts continued from their last '
        'checkpoint at the same learning rate (`--continue-truth`): the '
        'plateau rule at the longer budget, and how the study\'s truth '
        'ranks against it.', '', *plateau_lines(longer), ''
    ]
    study = dict(zip(records, (criteria for _, criteria in analysis['runs'])))
    rows = {}
    for run, record in checked.items():
        lines.append(
            agreement_line(run, record['budget'], record['truth'],
                           longer[run]['budget'], longer[run]['truth']))
        others = other_scenarios(records, run)
        for method, row in run_criteria(longer[run], metrics, others).items():
            rows.setdefault(method, {})[run] = (study[run][method], row)
    runs = list(checked)
    lines += [
        '', 'Spearman / top-1 regret (points) against the study\'s truth '
        '-> against the longer one:', '', NOT_GRADED, '',
        '| method | ' + ' | '.join(runs) + ' |', '|---|' + '---|' * len(runs)
    ]
    for method, cells in rows.items():
        lines.append(f'| {method} | ' + ' | '.join(' -> '.join(
            criteria_cell(row['spearman'], row['regret'])
            for row in cells[run]) for run in runs) + ' |')
    if not analysis['designs']:
        return lines + ['']
    return lines + [
        '', 'Regret against cost on the longer budget: top-1 regret in '
        'points against the longer truth (wall time as a fraction of '
        'finetuning every source to the longer budget); searches seeded by '
        'the metric chosen without the scenario, the search design chosen '
        'without it, in shares of the longer budget.', '', *run_cost_table(
            dict(cost_runs=runs, costs=longer_costs(longer, analysis))), ''
    ]


def rebuild_line(run: str, study: dict, truth: dict) -> str:
    """Whether a probe's own truth at the study's budget (``truth``)
    reproduces the study's record of the run: where it does not, the
    probe's sources were rebuilt elsewhere and its figures are the
    rebuild's."""
    gap = truth_gap(study, dict(truth=truth))
    if gap == 0:
        return (f'- {run}: the probe\'s {study["budget"]}-iteration truth '
                'is the study\'s record')
    how = gap_words(gap, 'the study\'s record')
    why = ('the scenario\'s sources changed since the study\'s run'
           if math.isinf(gap) else 'its sources rebuilt on another machine')
    return (f'- {run}: the probe\'s {study["budget"]}-iteration truth {how} '
            f'({why}): the probe\'s figures are the rebuild\'s')


def probe_lines(records: dict, probes: dict, metrics: list) -> list:
    """Each probe's plateau rule, how the truths at the study's budgets
    (read off the probe's own curves, which continue them) rank against
    the probe's, each source's truth at each budget, and every method
    against each truth (``probes``: :func:`stored_probes`)."""
    from mmseg_trf.evaluation import truth_at
    if not probes:
        return []
    lines = [
        '## A much longer truth, kept apart (`--probe-truth`)', '',
        'Some runs\' truth continued far beyond the study\'s budgets at the '
        'same learning rate, never pooled into the study: whether the '
        'study\'s truths rank the sources as a much longer one does. '
        f'{NOT_GRADED}', '', *plateau_lines(probes), ''
    ]
    for run, probe in probes.items():
        study = records[run]
        budgets = sorted({
            study['budget'],
            study.get('continued', study)['budget'], probe['budget']
        })
        truths = {b: truth_at(probe['curves'], b) for b in budgets}
        final = truths[probe['budget']]
        lines.append(rebuild_line(run, study, truths[study['budget']]))
        lines += [
            agreement_line(run, budget, truths[budget], probe['budget'], final)
            for budget in budgets[:-1]
        ]
        head = ' | '.join(f'{b} it' for b in budgets)
        lines += [
            '', f'| {run}: source | {head} |', '|---|' + '---|' * len(budgets)
        ]
        for name in sorted(final, key=final.get, reverse=True):
            lines.append(f'| {name} | ' +
                         ' | '.join(f'{100 * truths[b][name]:.1f}'
                                    for b in budgets) + ' |')
        others = other_scenarios(records, run)
        rows = [
            run_criteria(dict(probe, truth=truths[b]), metrics, others)
            for b in budgets
        ]
        lines += [
            '', f'{run}, Spearman / top-1 regret (points) against the truth '
            'at each budget:', '', f'| method | {head} |',
            '|---|' + '---|' * len(budgets)
        ]
        for method in rows[0]:
            lines.append(f'| {method} | ' + ' | '.join(
                criteria_cell(row[method]['spearman'], row[method]['regret'])
                for row in rows) + ' |')
        lines.append('')
    return lines


def probe_search_lines(longer: dict, probes: dict, analysis: dict) -> list:
    """Every strategy of the study on its longer budget, simulated on each
    probe's own curves (which continue the study's) and seeded and designed
    as in the study (``analysis``: the longer truth's :func:`analyse`), its
    pick judged by the other finetuning seeds' truth at the study's budget
    and at the probe's: whether what the search lost is the yardstick's
    (``longer``: :func:`longer_records`; ``probes``:
    :func:`stored_probes`)."""
    if not probes or not analysis['loso']:
        return []
    runs, cells = list(probes), {}
    for run, probe in probes.items():
        scenario = scenario_of(run)
        # the probe's curves with the study's budget and its wall times
        record = dict(
            probe,
            budget=longer[run]['budget'],
            finetune_seconds=longer[run]['finetune_seconds'])
        judged = [
            run_costs(record, other_scenarios(longer, run),
                      analysis['loso'][scenario]['chosen'],
                      analysis['designs'], scenario, budget)
            for budget in (record['budget'], probe['budget'])
        ]
        for name in judged[0]:
            regrets = [f'{points[name][2]:.1f}' for points in judged]
            cells.setdefault(name, []).append(' -> '.join(regrets))
    rows = [
        f'| {name} | ' + ' | '.join(row) + ' |' for name, row in cells.items()
    ]
    return [
        'Every strategy of the study on its longer budget, as the study ran '
        'it on the probe\'s curves (seeded by the metric and designed '
        'without the scenario), its pick judged by the other finetuning '
        'seed\'s truth at the study\'s budget -> at the probe\'s: top-1 '
        'regret in points, mean over the finetuning seeds.', '',
        '| strategy | ' + ' | '.join(runs) + ' |',
        '|---|' + '---|' * len(runs), *rows, ''
    ]


def without_family(record: dict, family: str) -> dict:
    """The run with the sources of one architecture family taken out."""
    keep = [n for n in record['truth'] if architecture(n) != family]
    return dict(
        record,
        truth={n: record['truth'][n]
               for n in keep},
        source_miou={
            n: v
            for n, v in record['source_miou'].items() if n in keep
        },
        ranking=dict(
            record['ranking'],
            sources=[
                s for s in record['ranking']['sources'] if s['name'] in keep
            ]))


def family_out_lines(records: dict, metrics: list, truth: str) -> list:
    """Every method with each architecture family left out of each run that
    has 3+ families (the fusions re-fused without it): whether a fusion's
    or a prior's edge rests on one family; and each family kept but left
    out of the architecture prior's history (an architecture it never
    saw)."""
    rows, cases = {}, []
    for run, record in records.items():
        families = sorted(set(map(architecture, record['truth'])))
        if len(families) < 3:
            continue
        others = other_scenarios(records, run)
        full = run_criteria(record, metrics, others)
        for family in families:
            cases.append(f'{run} without {family}')
            out = run_criteria(without_family(record, family), metrics, others)
            history = [without_family(o, family) for o in others]
            unseen = run_criteria(record, metrics,
                                  [h for h in history if len(h['truth']) > 1])
            for method, row in out.items():
                rows.setdefault(method, []).append(
                    (full[method]['spearman'], row['spearman'], row['regret'],
                     unseen[method]['spearman'], unseen[method]['regret']))
    if not cases:
        return []
    lines = [
        f'## Leave-one-family-out ({truth} truth)', '',
        f'{len(cases)} cases: each architecture family of each run with '
        'three or more left out, every method (fusions re-fused) judged on '
        'the sources left. Means over the cases: Spearman on the whole run, '
        'with the family out (lowest case), and top-1 regret in points with '
        'the family out; last, the whole run with the family left out of '
        'the architecture prior\'s history only (its sources kept: an '
        'architecture never seen before): Spearman (lowest) / regret.', '',
        '| method | whole runs | one family out (lowest) '
        '| regret, one family out | family unseen by the history |',
        '|---|---|---|---|---|'
    ]
    for method, values in rows.items():
        whole, out, regret, unseen, unseen_regret = np.array(values).T
        lines.append(
            f'| {method} | {np.nanmean(whole):.2f} | {np.nanmean(out):.2f} '
            f'({np.nanmin(out):.2f}) | {np.nanmean(regret):.1f} | '
            f'{np.nanmean(unseen):.2f} ({np.nanmin(unseen):.2f}) / '
            f'{np.nanmean(unseen_regret):.1f} |')
    return lines + ['']


def proxy_lines(records: dict) -> list:
    """The report's proxy agreement lines, one run as one target."""
    from mmseg_trf.benchmark.report import proxy_lines as lines
    return lines(
        dict(
            truth={
                run: r['truth']
                for run, r in records.items()
            },
            proxy_truth={
                proxy: {
                    run: r['proxies'][proxy]
                    for run, r in records.items()
                }
                for proxy in next(iter(records.values()))['proxies']
            }))


def criteria_cell(spearman: float, regret: float) -> str:
    """A method's ``Spearman / top-1 regret (points)`` on a run; n/a where
    it cannot rank the run's sources (:data:`NOT_GRADED`)."""
    if math.isnan(spearman):
        return 'n/a'
    return f'{spearman:.2f} / {regret:.1f}'


def cell(stat: dict, digits: int) -> str:
    """Mean [interval of the mean] (lowest to highest); the interval is left
    out under 3 runs (:func:`mean_interval` gives none), the range under 2.
    """
    if not stat.get('runs'):
        return '-'
    text = f"{stat['mean']:.{digits}f}"
    if stat['runs'] >= 3:
        text += f" [{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]"
    if stat['runs'] >= 2:
        text += f" ({stat['min']:.{digits}f} to {stat['max']:.{digits}f})"
    return text


def method_table(per_scenario: dict, methods: list) -> list:
    """Spearman and regret of every method on every scenario."""
    from mmseg_trf.evaluation import summarise_runs
    scenarios = list(per_scenario)
    lines = [
        '| method | ' + ' | '.join(scenarios) + ' |',
        '|---|' + '---|' * len(scenarios)
    ]
    summaries = {
        s: summarise_runs(rows, CRITERIA)
        for s, rows in per_scenario.items()
    }
    for method in methods:
        cells = []
        for s in scenarios:
            row = summaries[s].get(method)
            cells.append('-' if not row else criteria_cell(
                row['spearman']['mean'], row['regret']['mean']))
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    return lines


def figure(costs: dict, path: str, truth: str = 'long-budget truth') -> None:
    """Regret against cost: one marker per strategy, mean over runs, bars
    from the lowest to the highest run; ``truth`` names the regret's
    yardstick."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(11, 5))
    for index, (name, points) in enumerate(costs.items()):
        points = np.array(points)
        x = np.maximum(points[:, 1], 1e-4)
        y = points[:, 2]
        ax.errorbar(
            x.mean(),
            y.mean(),
            yerr=[[y.mean() - y.min()], [y.max() - y.mean()]],
            fmt='o' if name.startswith('halving') else
            ('s' if name.startswith('finetune') else '^'),
            color=plt.cm.tab20(index % 20),
            capsize=3,
            label=name)
    ax.set_xscale('log')
    ax.axvline(GOAL_COST, color='grey', ls=':', lw=1)
    ax.axhline(1.0, color='grey', ls=':', lw=1)
    ax.set_xlabel('cost: wall time as a fraction of finetuning every source '
                  'fully')
    ax.set_ylabel('top-1 regret (mIoU points)\n'
                  f'{truth}; judged by other seeds')
    ax.grid(alpha=0.3)
    # beside the axes: inside, it hid the bars of the costliest strategies
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def added_seed_lines(longer: dict, analysis: dict) -> list:
    """Per run with finetuning seeds added (``--add-finetune-seeds``), its
    longer truth and its regrets from the first two seeds and from all:
    does a less noisy yardstick move the noise floor and the search?"""
    runs = [run for run, r in longer.items() if seeds_of(r) > 2]
    if not runs or not analysis['loso']:
        return []
    lines = [
        '## A less noisy truth: finetuning seeds added', '',
        'Runs whose sources were finetuned with more seeds '
        '(`--add-finetune-seeds`; the sources rebuilt and checked to '
        'reproduce the record\'s). Each cell: from the first two seeds -> '
        'from all. Regrets (points) on the longer truth as in the cost '
        'tables, each strategy judged by the seeds it did not run on '
        '(with two seeds the other one, with three the mean of the other '
        'two); the metric and the search design are the left-out fold\'s.', '',
        '| run | seeds | truth: Spearman two vs all | same best | seeds '
        f'agree | noise floor ({NOISE_FLOOR}) | chosen metric | '
        'search (left-out design) |', '|---|---|---|---|---|---|---|---|'
    ]
    figures = {}
    for run in runs:
        scenario, record = scenario_of(run), longer[run]
        cells = added_seed_cells(record, scenario, analysis,
                                 other_scenarios(longer, run))
        figures.setdefault(scenario, []).append(cells)
        rho, two_best, best = truth_agreement(
            first_seeds(record, 2)['truth'], record['truth'])
        lines.append(f'| {run} | {seeds_of(record)} | {rho:.2f} '
                     f'| {"yes" if two_best == best else "no"} | ' +
                     seed_cells_text(cells) + ' |')
    for scenario, cells in figures.items():
        if len(cells) > 1:
            lines.append(f'| {scenario}, mean over its {len(cells)} runs '
                         '| | | | ' + seed_cells_text(np.mean(cells, 0)) +
                         ' |')
    return lines + ['']


def added_seed_cells(record: dict, scenario: str, analysis: dict,
                     history: list) -> tuple:
    """A run of ``scenario`` with seeds added, from its first two seeds and
    from all: the seeds' agreement, the noise floor's, the metric's and the
    search design's regret (points), both as the scenario's fold chose
    them (``analysis``), the history ``history`` (other runs).

    Returns:
        tuple: ``((agreement, floor, metric, search) from two, the same
        from all)``.
    """
    from mmseg_trf.evaluation import seed_agreement
    method = analysis['loso'][scenario]['chosen']
    design = analysis['designs']['left_out'][scenario]
    gains = history_gains(history)
    order, width = metric_order(record, method, history)
    cells = []
    for r in (first_seeds(record, 2), record):
        points = strategies(r, order, 'chosen metric', width)
        cells.append((seed_agreement(r['curves'],
                                     r['budget']), points[NOISE_FLOOR][2],
                      points['metric: chosen metric'][2],
                      design_point(r, order, design, gains)[2]))
    return tuple(cells)


def seed_cells_text(cells) -> str:
    """Table cells of :func:`added_seed_cells`: each figure from two seeds
    -> from all."""
    return ' | '.join(f'{a:.{d}f} -> {b:.{d}f}'
                      for (a, b), d in zip(zip(*cells), (2, 1, 1, 1)))


def tools_ranking() -> str:
    """The study's name of what the tools rank by first
    (``score_sources.py``'s default ``--metrics`` and ``--fusion-rule``)."""
    from mmseg_trf.apis.report import DEFAULT_RANKING, FUSION, FUSION_RULE
    first = DEFAULT_RANKING[0]
    return (f'fusion-{FUSION_RULE} ({ARCH_LEARNT} with '
            '--architecture-history)' if first == FUSION else first)


def ranking_use(truth: str) -> str:
    """What a protocol's choice on ``truth`` is for, naming what the tools
    rank by first (they follow a protocol only when changed on purpose)."""
    return f'on the {truth} truth; the tools rank by {tools_ranking()} first'


def loso_lines(analysis: dict, use: str) -> list:
    """Per left-out scenario the metric chosen on the others and its
    figures there, their mean, and the choice on every scenario, with
    ``use`` saying what that choice is for."""
    loso = analysis['loso']
    if not loso:
        return []
    lines = [
        f"- {scenario}: chosen {out['chosen']}; left-out Spearman "
        f"{cell(out['left_out']['spearman'], 2)}, regret "
        f"{cell(out['left_out']['regret'], 1)} (the truth's finetuning "
        f"seeds agree at Spearman {analysis['agreement'][scenario]:.2f}); "
        f"runner-up {out['runner_up']}: Spearman "
        f"{out['runner_up_left_out']['spearman']['mean']:.2f}, regret "
        f"{out['runner_up_left_out']['regret']['mean']:.1f}"
        for scenario, out in loso.items()
    ]
    without = analysis['without_history']
    return lines + [
        '', f'Mean over left-out scenarios: {loso_mean(loso)}', '',
        'Had every fold chosen its runner-up instead (how much the figure '
        'hangs on the fold\'s choice): '
        f"{loso_mean(loso, 'runner_up_left_out')}", '',
        f"Chosen on every scenario ({use}): **{analysis['chosen']}**", '',
        f'{ARCH_LEARNT} joined the candidates on {LEARNT_SHARE_REGISTERED},'
        ' after a hindsight look at the 42 runs stored then, so its '
        'left-out figures on those runs are optimistic.', '',
        f'Without a history ({" and ".join(HISTORY_CANDIDATES)} not '
        'candidates): chosen ' + ', '.join(f"{o['chosen']} without {s}"
                                           for s, o in without.items()) +
        f'; left out {loso_mean(without)}'
    ]


def loso_mean(loso: dict, figures: str = 'left_out') -> str:
    """The mean over left-out scenarios of Spearman and regret (of the
    fold's choice, or with ``figures='runner_up_left_out'`` its
    runner-up's)."""
    from mmseg_trf.evaluation import mean_interval
    rho, regret = ([o[figures][c]['mean'] for o in loso.values()]
                   for c in ('spearman', 'regret'))
    return (f'Spearman {cell(mean_interval(rho), 2)}, regret '
            f'{cell(mean_interval(regret), 1)}')


def longer_loso_lines(analysis: dict, image: str) -> list:
    """Leave-one-scenario-out among the runs with a longer truth, judged
    on it alone: the metric and the search design chosen on the other such
    scenarios against their longer truth, reported on the one left out
    (``image``: the Markdown line of its regret-cost figure)."""
    if not analysis['loso']:
        return []
    return [
        '## Leave-one-scenario-out against the longer truth', '',
        'Only the runs continued to a longer budget, and only their longer '
        'truth: the default metric and the search design are chosen on the '
        'other such scenarios and reported on the one left out (the '
        'architecture prior too is learnt on them alone).', '',
        *loso_lines(analysis, ranking_use('longer')), '',
        *registered_lines(analysis), *candidate_test_lines(analysis), image,
        '', COST_YARDSTICK, '', *cost_table(analysis), '',
        *scenario_cost_table(analysis), '',
        'Per run: top-1 regret in points (wall-time cost as a fraction of '
        'finetuning every source to the longer budget).', '',
        *run_cost_table(analysis), '',
        *design_lines(analysis['designs'], LONGER_TOOLS_USE, True), ''
    ]


def registered_lines(analysis: dict) -> list:
    """The scenarios registered before their results (:data:`REGISTERED`),
    each judged as its fold left it: the metric chosen on the others, with
    and without a history, and the search design chosen on the others."""
    held = [s for s in REGISTERED if s in analysis['loso']]
    if not held:
        return []
    lines = [
        '### Scenarios registered before their results', '',
        'Each was committed before any of its sources was trained; nothing '
        'of the protocol was chosen with it. The regret of the search is '
        'judged by the finetuning seeds it did not run on (below).', '',
        '| scenario (registered in) | runs | with a history: chosen, '
        'Spearman, regret | without: chosen, Spearman, regret | ' +
        ' | '.join(f'search, {RULE_WORDS[rule][0]}: regret (wall)'
                   for rule in DESIGN_RULES) + ' |',
        '|---|---|---|---|' + '---|' * len(DESIGN_RULES)
    ]
    for scenario in held:
        cells = [
            f"{out['chosen']}, {cell(out['left_out']['spearman'], 2)}, "
            f"{cell(out['left_out']['regret'], 1)}"
            for out in (analysis['loso'][scenario],
                        analysis['without_history'][scenario])
        ]
        search = [
            '{2:.1f} ({1:.2f})'.format(
                *scenario_point(analysis, row, scenario))
            if row in analysis['costs'] else '-'
            for _, row in DESIGN_RULES.values()
        ]
        runs = analysis['loso'][scenario]['left_out']['spearman']['runs']
        lines.append(f'| {scenario} ({REGISTERED[scenario]}) | {runs} | ' +
                     ' | '.join(cells + search) + ' |')
    return lines + ['']


def candidate_holds(candidate: float, protocol: float) -> bool:
    """The adoption rule of the candidate search (registered with
    :data:`FIXED_SEARCH_ROW`) on one test run: it loses under 1 point, or no
    more than the protocol's search."""
    return candidate < 1 or candidate <= protocol


def candidate_test_lines(analysis: dict) -> list:
    """The candidate for the protocol's search (:data:`FIXED_SEARCH_ROW`) on
    its unseen tests (:data:`FIXED_SEARCH_TESTS`), beside the fold's metric
    and the protocol's search on each, and whether it is adopted."""
    costs, protocol_row = analysis['costs'], DESIGN_RULES[PROTOCOL_RULE][1]
    if FIXED_SEARCH_ROW not in costs or protocol_row not in costs:
        return []
    index = {run: i for i, run in enumerate(analysis['cost_runs'])}
    stored = [run for run in FIXED_SEARCH_TESTS if run in index]
    lines = [
        '### The candidate search on its unseen tests', '',
        f'"{FIXED_SEARCH_ROW}" was registered on {FIXED_SEARCH_REGISTERED} '
        'as the candidate for the protocol\'s search, after a look at the 51 '
        'runs stored then (its figures on them are hindsight). It replaces '
        f'the design chosen by {RULE_WORDS[PROTOCOL_RULE][0]} only if, on '
        'each test, it loses under 1 point or no more than that design. '
        'Regret in points (wall-time cost as a fraction of finetuning every '
        'source), judged by the finetuning seeds it did not run on.', '',
        '| test run | the fold\'s metric: Spearman / regret | candidate | '
        'protocol\'s search | holds |', '|---|---|---|---|---|'
    ]
    held = []
    for run in stored:
        scenario, criteria = analysis['runs'][index[run]]
        metric = criteria[analysis['loso'][scenario]['chosen']]
        (_, wall, regret), (_, protocol_wall, protocol) = (
            costs[row][index[run]] for row in (FIXED_SEARCH_ROW, protocol_row))
        held.append(candidate_holds(regret, protocol))
        lines.append(f'| {run} | {metric["spearman"]:.2f} / '
                     f'{metric["regret"]:.1f} | {regret:.1f} ({wall:.2f}) | '
                     f'{protocol:.1f} ({protocol_wall:.2f}) | '
                     f'{"yes" if held[-1] else "no"} |')
    missing = [run for run in FIXED_SEARCH_TESTS if run not in index]
    verdict = ('not adopted: it fails the rule'
               if not all(held) else f'waiting for {", ".join(missing)}'
               if missing else 'adopted: it holds on every test')
    if CANDIDATE_VERDICT:
        verdict = (f'{CANDIDATE_VERDICT}; final when made. On the tests\' '
                   f'truth of today (the table) the rule reads "{verdict}", '
                   'which does not reopen it')
    return lines + ['', f'The candidate: {verdict}.', '']


def scenario_point(analysis: dict, strategy: str, scenario: str):
    """A strategy's ``(iterations, wall time, regret)`` on a scenario: the
    mean of its points over the scenario's runs."""
    return np.mean([
        point for run, point in zip(analysis['cost_runs'], analysis['costs']
                                    [strategy]) if scenario_of(run) == scenario
    ], 0)


def search_loss_lines(longer: dict, analysis: dict) -> list:
    """Where the protocol's search loses most: on the scenario with the
    highest mean regret in its cost-table row, each simulated search (its
    fold's design and metric, one per finetuning seed,
    :func:`search_picks`), each picked source's share of the scenario's
    regret, and how close its best sources end (:func:`top_closeness`);
    nothing for a study of one scenario."""
    if not analysis['loso'] or not analysis['designs']:
        return []
    row = DESIGN_RULES[PROTOCOL_RULE][1]
    regrets = {
        s: scenario_point(analysis, row, s)[2]
        for s in dict.fromkeys(map(scenario_of, analysis['cost_runs']))
    }
    worst = max(regrets, key=regrets.get)
    design = analysis['designs']['left_out'][worst]
    method = analysis['loso'][worst]['chosen']
    runs = [run for run in longer if scenario_of(run) == worst]
    lines = [
        '### Where the protocol\'s search loses most', '',
        f'On {worst}, the worst scenario of "{row}" '
        f'({regrets[worst]:.1f} points), each '
        f'search of its fold\'s design ({design.name}, seeded by {method}) '
        'simulated on one finetuning seed\'s curves: the source it picks and '
        'the best by the other seeds\' truth.', '',
        '| run | finetuning seed | pick | best (other seeds) | regret |',
        '|---|---|---|---|---|'
    ]
    shares, gaps, spreads = {}, [], []
    for run in runs:
        record, history = longer[run], other_scenarios(longer, run)
        order = metric_order(record, method, history)[0]
        picks = search_picks(record, order, design, history_gains(history))
        for seed, (pick, best, regret) in enumerate(picks):
            lines.append(
                f'| {run} | {seed} | {pick} | {best} | {regret:.1f} |')
            count, share = shares.get(pick, (0, 0.0))
            shares[pick] = count + 1, share + regret / len(picks) / len(runs)
        gap, spread = top_closeness(record)
        gaps.append(gap)
        spreads += spread
    searches = sum(count for count, _ in shares.values())
    return lines + [
        '', f'Each picked source\'s share of the {worst} regret (times '
        f'picked of {searches}, points): ' + '; '.join(
            f'{name} {count}, {share:.1f}' for name, (count, share) in sorted(
                shares.items(), key=lambda kv: -kv[1][1])) + '. Its three '
        f'best sources end within {min(gaps):.1f} to {max(gaps):.1f} points '
        'of each other (the best to the third, per run); the finetuning '
        f'seeds of each differ by {min(spreads):.1f} to {max(spreads):.1f} '
        'points.', ''
    ]


def cost_table(analysis: dict) -> list:
    lines = [
        '| strategy | iterations (fraction of all) | wall time (fraction) | '
        'top-1 regret (points) | worst run |', '|---|---|---|---|---|'
    ]
    for name, (iters, wall, regret) in analysis['cost_rows'].items():
        lines.append(f"| {name} | {iters['mean']:.3f} | {wall['mean']:.3f} "
                     f"| {cell(regret, 1)} | {regret['max']:.1f} |")
    return lines


def design_lines(designs: dict, tools_use: str, command: bool) -> list:
    """Which search design each left-out scenario got, the one chosen on
    every scenario, and the one chosen with the tools' order seeding every
    run (``tools_use`` says what that choice is for; ``command``: give the
    select_source.py command line for it)."""
    if not designs:
        return []
    count = len(designs['simulated'])
    kinds = [
        kind for kind, spec in DESIGN_KINDS.items()
        if any((d.score, d.scaled, d.keep_first) == spec
               for d in designs['simulated'])
    ]
    tools = designs['tools']
    line = ('`tools/select_source.py --width {0.width} --min-iters <{0.first} '
            'of F> --max-iters <{0.last} of F> --eta {0.eta}` for a full '
            'budget of F iterations.'.format(tools)) if command else ''
    return [
        '### The search design, chosen leave-one-scenario-out', '',
        f'{count} designs simulated (share of the metric\'s top sources '
        'entering, first and last rung as shares of the full budget, '
        '1/eta kept per rung, and how a rung compares its candidates: '
        f'{" or ".join(map(SCORE_WORDS.get, kinds))}); chosen on '
        f'the other scenarios by {RULE_WORDS[PROTOCOL_RULE][0]}, the '
        'protocol\'s: among those costing at most a quarter (the larger of '
        'iterations and wall time) in every run, '
        f'{RULE_WORDS[PROTOCOL_RULE][1]}, then the lowest cost.', ''
    ] + [
        f'- without {scenario}: {design.name}'
        for scenario, design in designs['left_out'].items()
    ] + [
        '', 'Chosen on every scenario (seeded by the protocol\'s choice): '
        f"**{designs['all'].name}**; with {TOOLS_ORDER} seeding every run "
        f'({tools_use}): **{tools.name}**. {line}'.rstrip(), '',
        'How firm that choice is: on 1,000 resamples of the scenarios '
        '(with replacement, each with all its runs) the same rule chooses ' +
        '; '.join(
            f'{design.name} {share:.0%}'
            for design, share in list(designs['tools_shares'].items())[:3]) +
        (f'; {len(designs["tools_shares"]) - 3} other designs the rest'
         if len(designs['tools_shares']) > 3 else '') + '.', '',
        *(line
          for rule, (key, _) in DESIGN_RULES.items() if rule != PROTOCOL_RULE
          for line in (rule_line(designs[key], rule), '')),
        hindsight_line(designs['closest'], designs['closest_any'])
    ]


def hindsight_line(affordable: tuple, any_cost: tuple) -> str:
    """How near the simulated designs come to the search goal in
    hindsight: the design with the lowest worst scenario among the
    affordable ones and at any cost (``closest_design`` of the
    analysis)."""
    return ('In hindsight (every run seeded by its own left-out choice, not '
            'a protocol, the worst-scenario rule on every scenario): the '
            'affordable design with the lowest worst scenario, {0.name}, '
            'loses {1:.1f} points on {2} (at most {3:.0%} of the cost); at '
            'any cost, {4.name} loses {5:.1f} points on {6} (at most {7:.0%} '
            'of the cost).'.format(*affordable, *any_cost))


def rule_line(chosen: dict, rule: str) -> str:
    """The designs another ``rule`` chose (``chosen``: its ``left_out``,
    ``all`` and ``tools``)."""
    name, criterion, history = RULE_WORDS[rule]
    return (f'By {name} instead ({criterion}; {history}; reported beside, '
            f'the tools follow {RULE_WORDS[PROTOCOL_RULE][0]}): ' +
            '; '.join(f'without {scenario}: {design.name}'
                      for scenario, design in chosen['left_out'].items()) +
            f"; on every scenario **{chosen['all'].name}**, with "
            f"{TOOLS_ORDER} seeding every run **{chosen['tools'].name}**.")


def scenario_cost_table(analysis: dict) -> list:
    """Per left-out scenario (the goal's unit): every strategy's top-1
    regret (points) and wall-time cost, each the mean over its runs, and
    which strategies meet the goal (under 1 point on every scenario at
    most a quarter of the cost)."""
    scenarios = list(dict.fromkeys(map(scenario_of, analysis['cost_runs'])))
    lines = [
        '| strategy | ' + ' | '.join(scenarios) + ' | worst scenario |',
        '|---|' + '---|' * (len(scenarios) + 1)
    ]
    meeting, at_any_cost, worst = [], [], {}
    for name, points in analysis['costs'].items():
        means = np.array([
            scenario_point(analysis, name, scenario) for scenario in scenarios
        ])
        worst[name] = means[:, 2].max(), scenarios[means[:, 2].argmax()]
        lines.append(f'| {name} | ' +
                     ' | '.join(f'{regret:.1f} ({wall:.2f})'
                                for _, wall, regret in means) +
                     f' | {worst[name][0]:.1f} |')
        if worst[name][0] < 1:
            at_any_cost.append(name)
            if max(map(goal_cost, means)) <= GOAL_COST:
                meeting.append(name)
    floor, floor_scenario = worst[NOISE_FLOOR]
    return lines + [
        '', 'Under 1 point on every scenario at most a quarter of the cost '
        '(iterations and wall time): ' +
        (', '.join(meeting) or 'none') + '. At any cost: ' +
        (', '.join(at_any_cost) or 'none') +
        f'; "{NOISE_FLOOR}", the yardstick\'s noise floor, loses up to '
        f'{floor:.1f} points on a scenario ({floor_scenario}).'
    ]


def run_cost_table(analysis: dict) -> list:
    """Per run (each a left-out scenario): every strategy's top-1 regret
    (points) and wall-time cost (fraction of finetuning every source)."""
    runs = analysis['cost_runs']
    lines = [
        '| strategy | ' + ' | '.join(runs) + ' |', '|---|' + '---|' * len(runs)
    ]
    for name, points in analysis['costs'].items():
        lines.append(f'| {name} | ' +
                     ' | '.join(f'{regret:.1f} ({wall:.2f})'
                                for _, wall, regret in points) + ' |')
    return lines


def report_paths(out_dir: str, docs: bool) -> tuple:
    """Where the report and its two regret-cost figures (every truth, the
    longer truth) go: ``out_dir``, or the docs with ``docs``."""
    if docs:
        return (DOCS_REPORT, osp.join(DOCS_FIGURES, 'selection_cost.png'),
                osp.join(DOCS_FIGURES, 'selection_cost_longer.png'))
    return tuple(
        osp.join(out_dir, f'selection_study{end}')
        for end in ('.md', '_cost.png', '_cost_longer.png'))


def image_line(report: str, path: str, title: str) -> str:
    """A Markdown image of ``path`` as the report at ``report`` links it."""
    return f'![{title}]({osp.relpath(path, osp.dirname(report))})'


def report_text(records: dict, longer: dict, probes: dict, metrics: list,
                analysis: dict, longer_analysis: dict, paths: tuple) -> list:
    """The report's lines: both truths' plateau rule and
    leave-one-scenario-out figures, the probes of a much longer truth,
    every method per scenario, regret against cost and the search design
    (``longer``: :func:`longer_records` of ``records``; ``probes``:
    :func:`stored_probes`; ``paths``: :func:`report_paths`)."""
    report, costs_png, longer_costs_png = paths
    methods = list(analysis['runs'][0][1])
    command = 'Written by `{}`'.format(' '.join(
        ['python benchmarks/bench_selection.py', *sys.argv[1:]]))
    longer_image = image_line(
        report, longer_costs_png,
        'Regret against cost on the longer truth, left-out scenarios')
    text = [
        '# Source selection on left-out scenarios, long-budget truth', '',
        command, '', f'{len(records)} runs: {", ".join(records)}', '',
        '## The ground truth: plateau rule', '',
        'A run has converged when, for at least 3/4 of its sources, the best '
        'validation mIoU of the budget\'s last quarter gains less than the '
        'seed-to-seed noise (std over the finetuning seeds of the best '
        'mIoU over the first three quarters, averaged over sources). The '
        'last column is the Spearman between the rankings the finetuning '
        'seeds give alone (`evaluation.seed_agreement`): where it is low the '
        'truth is partly finetuning noise no metric can predict.', '',
        *plateau_lines(records), '',
        *continued_lines(records, metrics, analysis),
        *probe_lines(records, probes, metrics),
        *probe_search_lines(longer, probes, longer_analysis),
        *longer_loso_lines(longer_analysis, longer_image),
        *search_loss_lines(longer, longer_analysis),
        *added_seed_lines(longer, longer_analysis),
        *family_out_lines(longer, metrics, 'longer'),
        '## The old short-budget truth against the long-budget one', '',
        *proxy_lines(records), '',
        '## Leave-one-scenario-out: the default chosen on the others', '',
        *loso_lines(analysis, ranking_use('1,000-iteration'))
    ]
    text += [
        '', '## Every method per scenario (Spearman / regret in points, mean '
        'over seeds)', '', NOT_GRADED, '',
        *method_table(analysis['per_scenario'], methods), '',
        *family_out_lines(records, metrics, 'the study\'s'),
        '## Regret against cost', '',
        'Searches are seeded by the metric chosen without the scenario '
        '(leave-one-scenario-out); cost 0 iterations for a metric alone, '
        'whose wall time is its scoring. Cells: mean [95% interval of the '
        'mean, from 3 runs] (lowest to highest run) over runs.', '',
        image_line(report, costs_png, 'Regret against cost'), '',
        COST_YARDSTICK, '', *cost_table(analysis), '',
        'Per scenario: top-1 regret in points (wall-time cost as a fraction '
        'of finetuning every source), mean over its runs.', '',
        *scenario_cost_table(analysis), '',
        'Per run: top-1 regret in points (wall-time cost as a fraction of '
        'finetuning every source).', '', *run_cost_table(analysis), '',
        *design_lines(analysis['designs'], TOOLS_USE, False)
    ]
    return text


def write_summary(path: str, analysis: dict, longer_analysis: dict) -> None:
    """The study's choices and costs as JSON (``selection_study.json``)."""
    with open(path, 'w') as f:
        json.dump(
            dict(
                runs=analysis['runs'],
                chosen=analysis['chosen'],
                loso=analysis['loso'],
                designs=dict(
                    all=analysis['designs']['all'].name,
                    tools=analysis['designs']['tools'].name,
                    left_out={
                        g: d.name
                        for g, d in analysis['designs']['left_out'].items()
                    }) if analysis['designs'] else {},
                costs=analysis['costs'],
                longer_loso=longer_analysis['loso']),
            f,
            indent=1)
