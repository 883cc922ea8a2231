"""Tables 2 and 3 and Figs. 4-6 of the ICIP 2023 paper from a benchmark
run, plus the ground truth's own noise."""
import math
import os
import os.path as osp
import shutil
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..apis.report import correlation_table, fmt_number
from ..apis.scoring import write_history
from ..evaluation import curve_budget, rank_correlations
from ..fileio import atomic_write, atomic_write_text


def metric_scores(ranking: dict, metric: str) -> Dict[str, float]:
    """Source name -> mean score of a metric (NaN when it failed)."""
    out = {}
    for source in ranking['sources']:
        result = source['metrics'].get(metric)
        ok = result and result['error'] is None
        out[source['name']] = result['mean'] if ok else math.nan
    return out


def correlations_for(ranking: dict, truth: Dict[str, float],
                     metric: str) -> Dict[str, float]:
    scores = metric_scores(ranking, metric)
    names = [n for n in truth if n in scores]
    return rank_correlations([scores[n] for n in names],
                             [truth[n] for n in names])


def table2(results: dict, metrics: Sequence[str]) -> List[str]:
    """Spearman (upper) and Kendall (lower) per target, their averages, and
    each metric's mean time per source-target pair."""
    lines = [
        '| target | | ' + ' | '.join(metrics) + ' |',
        '|' + '---|' * (len(metrics) + 2)
    ]
    per = {m: dict(spearman=[], kendall=[], seconds=[]) for m in metrics}
    for target, scored in results['scores'].items():
        if not scored:
            lines.append(f'| {target} | failed |' + ' |' * len(metrics))
            continue
        truth = results['truth'][target]
        for criterion in ('spearman', 'kendall'):
            row = []
            for metric in metrics:
                value = correlations_for(scored['ranking'], truth,
                                         metric)[criterion]
                per[metric][criterion].append(value)
                row.append(fmt_number(value, 3))
            lines.append(f'| {target if criterion == "spearman" else ""} | '
                         f'{criterion} | ' + ' | '.join(row) + ' |')
        for metric in metrics:
            per[metric]['seconds'] += [
                s['metrics'][metric]['seconds']
                for s in scored['ranking']['sources'] if metric in s['metrics']
            ]
    for criterion in ('spearman', 'kendall'):
        label = '**average**' if criterion == 'spearman' else ''
        lines.append(f'| {label} | {criterion} | ' + ' | '.join(
            fmt_number(
                np.nanmean(per[m][criterion]) if per[m][criterion] else math.
                nan, 3) for m in metrics) + ' |')
    lines.append('| time per pair (s) | | ' + ' | '.join(
        fmt_number(
            np.mean(per[m]['seconds']) if per[m]['seconds'] else math.nan, 2)
        for m in metrics) + ' |')
    return lines


def _mean_miou(runs) -> float:
    return float(np.mean([r['miou'] for r in runs])) if runs else math.nan


def table3(results: dict, weightings: Sequence[str]) -> List[str]:
    """Vanilla vs transferability-weighted finetuning mIoU (mean over
    seeds) per target and source, with averages."""
    variants = ['vanilla'] + [f'trf-{w}' for w in weightings]
    lines = [
        '| target | source | ' + ' | '.join(variants) + ' |',
        '|' + '---|' * (len(variants) + 2)
    ]
    finetunes = results['finetunes']
    pairs = sorted({(t, s) for t, s, v in finetunes if v.startswith('trf-')})
    totals = {v: [] for v in variants}
    for target, source in pairs:
        row = [
            _mean_miou(finetunes.get((target, source, v), []))
            for v in variants
        ]
        for v, value in zip(variants, row):
            if np.isfinite(value):
                totals[v].append(value)
        lines.append(f'| {target} | {source} | ' +
                     ' | '.join(fmt_number(v, 4) for v in row) + ' |')
    lines.append('| **average** | | ' + ' | '.join(
        fmt_number(np.mean(totals[v]) if totals[v] else math.nan, 4)
        for v in variants) + ' |')
    return lines


def truth_table(results: dict) -> List[str]:
    """Ground-truth mIoU per target and source: mean, std over seeds, and
    the spread across sources against that noise."""
    lines = [
        '| target | source | mIoU (mean) | std over seeds | runs |',
        '|---|---|---|---|---|'
    ]
    summary = []
    for (target, source,
         variant), runs in sorted(results['finetunes'].items()):
        if variant != 'vanilla' or not runs:
            continue
        values = [r['miou'] for r in runs]
        lines.append(
            f'| {target} | {source} | {fmt_number(np.mean(values), 4)} '
            f'| {fmt_number(np.std(values), 4)} | {len(values)} |')
    for target, truth in results['truth'].items():
        if len(truth) < 2:
            continue
        noise = [
            np.std([r['miou'] for r in runs])
            for (t, _, v), runs in results['finetunes'].items()
            if t == target and v == 'vanilla' and len(runs) > 1
        ]
        values = list(truth.values())
        summary.append(
            f'- {target}: ground truth spans {fmt_number(min(values), 3)}-'
            f'{fmt_number(max(values), 3)} (range '
            f'{fmt_number(np.ptp(values), 3)}, '
            f'std across sources {fmt_number(np.std(values), 3)}); seed noise '
            '(mean std over seeds) ' +
            (fmt_number(np.mean(noise), 3) if noise else '-'))
    return lines + [''] + summary


def proxy_lines(results: dict) -> List[str]:
    """How each cheaper proxy protocol's ranking agrees with the ground
    truth: Spearman between the two truths and whether the best source
    changes."""
    lines = []
    for proxy, targets in results.get('proxy_truth', {}).items():
        for target, cheap in targets.items():
            truth = results['truth'].get(target, {})
            names = [n for n in truth if n in cheap]
            if len(names) < 2:
                continue
            rho = rank_correlations([cheap[n] for n in names],
                                    [truth[n] for n in names])['spearman']
            best = max(names, key=truth.get)
            cheap_best = max(names, key=cheap.get)
            change = ('the same best source' if best == cheap_best else
                      f'another best source: {cheap_best} (ground truth '
                      f'{fmt_number(truth[cheap_best], 3)} vs '
                      f'{fmt_number(truth[best], 3)} for {best})')
            lines.append(f'- {target}, proxy {proxy!r}: Spearman with the '
                         f'ground truth {fmt_number(rho, 3)}; {change}')
    return lines


def selection_tables(results: dict) -> List[str]:
    """Per target, every metric's correlations and decision criteria with
    95% bootstrap intervals over sources, beside the random and static
    baselines (the ``score_sources`` tables)."""
    lines = []
    for target, scored in results['scores'].items():
        corr = scored and scored['ranking'].get('correlations')
        if corr:
            lines += [f'### {target}', '', correlation_table(corr), '']
    return lines


def figure6(results: dict, metrics: Sequence[str], path: str) -> str:
    """Spearman's rho (mean over targets) against the sampled pixels N."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for metric in metrics:
        points = []
        for n in sorted(
            {n
             for sweep in results['sweep'].values()
             for n in sweep}):
            values = [
                correlations_for(sweep[n]['ranking'], results['truth'][t],
                                 metric)['spearman']
                for t, sweep in results['sweep'].items() if sweep.get(n)
            ]
            if values:
                points.append((n, np.nanmean(values)))
        if points:
            ax.plot(*zip(*points), marker='o', label=metric)
    ax.set_xscale('log')
    ax.set_xlabel('sampled pixels N')
    ax.set_ylabel("Spearman's rho (mean over targets)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format='png'))
    plt.close(fig)
    return path


def past_targets(results: dict, spec) -> Dict[str, List[Tuple[str, list]]]:
    """Each target's vanilla finetuning runs as a past target of a history
    file (:func:`~mmseg_trf.apis.scoring.write_history`): per source that
    names its ``architecture`` in the spec and finished a run, its family
    and each seed's learning curve."""
    families = {s.name: s.architecture for s in spec.sources if s.architecture}
    targets = {}
    for (target, source, variant), runs in results['finetunes'].items():
        if variant == 'vanilla' and runs and source in families:
            targets.setdefault(target, []).append(
                (families[source], [run['curve'] for run in runs]))
    return targets


def history_line(results: dict, spec, folder: str) -> str:
    """Write ``history.yaml`` in ``folder`` (:func:`past_targets`) and say
    what it holds and which tools take it, or why none was written."""
    targets = past_targets(results, spec)
    path = osp.join(folder, 'history.yaml')
    written = write_history(path, targets)
    if not written:
        if osp.isfile(path):  # an earlier run's, not these results'
            os.remove(path)
        return ('No history written: it needs two or more finetuned sources '
                'of a target that name their `architecture` in the spec.')
    budget = max(
        curve_budget(curve) for sources in targets.values()
        for _, curves in sources for curve in curves)
    return (f'`history.yaml`: the finetuning results of {", ".join(written)} '
            '(each source\'s family, ground truth and learning curves), for '
            'later targets: `score_sources.py --architecture-history '
            'history.yaml` and `select_source.py --gain-history history.yaml '
            f'--full-iters {budget}`.')


def write_report(results: dict, spec, work_dir: str) -> str:
    """``report/report.md`` with Tables 2 and 3, the ground truth and its
    noise, and Figs. 4-6 (copied into ``report/``), and the targets'
    finetuning results as ``report/history.yaml`` (:func:`history_line`)."""
    folder = osp.join(work_dir, 'report')
    os.makedirs(folder, exist_ok=True)
    metrics = spec.scoring.metrics
    text = [
        '# Transferability benchmark', '',
        '## Table 2: rank correlation with the ground-truth mIoU', '',
        *table2(results, metrics), '',
        '## Source selection: intervals, regret and baselines', '',
        'Brackets: 95% bootstrap intervals over sources; regret: mIoU '
        'points lost by finetuning the top-scored source instead of the '
        'best; a metric should beat the random ranking and the static '
        'prior (larger model first), which use no target data.', '',
        *selection_tables(results),
        '## Ground truth (vanilla finetuning, best validation mIoU)', '',
        *truth_table(results), ''
    ]
    if results.get('proxy_truth'):
        text += [
            '## Cheaper proxies of the ground truth', '',
            *proxy_lines(results), ''
        ]
    text += [
        '## A history for later targets', '',
        history_line(results, spec, folder), ''
    ]
    if any(v.startswith('trf-') for _, _, v in results['finetunes']):
        text += [
            '## Table 3: vanilla vs transferability-weighted '
            'finetuning (mIoU)', '', *table3(results, spec.weighted.metrics),
            ''
        ]
    figures = []
    for target, scored in results['scores'].items():
        if scored and scored.get('plot'):
            name = f'fig4_score_vs_miou_{target}.png'
            shutil.copy(scored['plot'], osp.join(folder, name))
            figures.append(f'![Fig. 4, {target}]({name})')
    for (target, source,
         variant), runs in sorted(results['finetunes'].items()):
        if runs and runs[0].get('weight_map'):
            name = f'fig5_weights_{target}_{source}_{variant}.png'
            shutil.copy(runs[0]['weight_map'], osp.join(folder, name))
            figures.append(f'![Fig. 5, {target} {source} {variant}]({name})')
    if any(results['sweep'].values()):
        figure6(results, metrics, osp.join(folder, 'fig6_pixels.png'))
        figures.append('![Fig. 6](fig6_pixels.png)')
    text += ['## Figures', ''] + figures + ['']
    if results['failures']:
        text += ['## Failed steps', ''] + [
            f'- {key}: {error}' for key, error in results['failures'].items()
        ]
    path = osp.join(folder, 'report.md')
    atomic_write_text(path, '\n'.join(text) + '\n')
    return path


__all__ = [
    'write_report', 'table2', 'table3', 'truth_table', 'figure6',
    'selection_tables', 'proxy_lines', 'past_targets'
]
