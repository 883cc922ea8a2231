"""What the demo tells a new user, on top of the benchmark report."""
import math
from typing import List, Sequence

import numpy as np

from ..apis.report import fmt_number
from ..benchmark.report import correlations_for, metric_scores
from ..evaluation import rank_correlations
from ..fileio import atomic_write_text


def timing_lines(results: dict) -> List[str]:
    """Scoring time against finetuning time per source (the seed claims
    scoring is at least 67x faster than finetuning)."""
    lines = []
    for target, scored in results['scores'].items():
        if not scored:
            continue
        ratios = []
        for source in scored['ranking']['sources']:
            runs = results['finetunes'].get(
                (target, source['name'], 'vanilla'), [])
            scoring = source['extract_seconds'] + sum(
                m['seconds'] for m in source['metrics'].values())
            if runs and scoring > 0:
                ratios.append(np.mean([r['seconds'] for r in runs]) / scoring)
        if ratios:
            lines.append(f'- {target}: finetuning one source takes '
                         f'{fmt_number(np.mean(ratios), 1)}x '
                         f'(min {fmt_number(min(ratios), 1)}x) '
                         'the time of scoring it with every metric (feature '
                         'extraction included)')
    return lines


def best_source_lines(results: dict, metrics) -> List[str]:
    """Which source each metric picks, against the true best."""
    lines = []
    for target, scored in results['scores'].items():
        truth = results['truth'].get(target, {})
        if not scored or not truth:
            continue
        best = max(truth, key=truth.get)
        lines.append(f'- {target}: the best source is {best} '
                     f'(mIoU {fmt_number(truth[best], 3)})')
        for metric in metrics:
            scores = metric_scores(scored['ranking'], metric)
            scores = {
                k: v
                for k, v in scores.items() if k in truth and math.isfinite(v)
            }
            if not scores:
                continue
            pick = max(scores, key=scores.get)
            rho = correlations_for(scored['ranking'], truth,
                                   metric)['spearman']
            lines.append(f'  - {metric} picks {pick} (mIoU '
                         f'{fmt_number(truth[pick], 3)}, '
                         f'{fmt_number(truth[pick] / truth[best], 2)} '
                         f'of the best); Spearman {fmt_number(rho, 2)}')
    return lines


def within_group_lines(results: dict, metrics) -> List[str]:
    """Spearman among the sources of one architecture (the demo names
    sources ``<arch>_<data>``): how well a metric sees domain and task
    distance alone, with the architecture held fixed."""
    lines = []
    for target, scored in results['scores'].items():
        truth = results['truth'].get(target, {})
        if not scored or not truth:
            continue
        groups = sorted({name.split('_')[0] for name in truth})
        for metric in metrics:
            scores = metric_scores(scored['ranking'], metric)
            values = {}
            for group in groups:
                names = [n for n in truth if n.split('_')[0] == group]
                if len(names) >= 3:
                    values[group] = rank_correlations(
                        [scores.get(n, math.nan) for n in names],
                        [truth[n] for n in names])['spearman']
            if values:
                detail = ', '.join(f'{g} {fmt_number(v, 2)}'
                                   for g, v in values.items())
                lines.append(
                    f'- {target}, {metric}: mean Spearman '
                    f'{fmt_number(np.nanmean(list(values.values())), 2)} over '
                    f'{len(values)} architectures ({detail})')
    return lines


def write_summary(results: dict,
                  spec,
                  report_path: str,
                  notes: Sequence[str] = ()) -> str:
    """Append the demo's summary to the benchmark report; its path."""
    text = open(report_path).read()
    summary = [
        '', '## What the demo shows', '',
        '### Which source would each metric choose?', '',
        *best_source_lines(results, spec.scoring.metrics), '',
        '### Within one architecture (domain and task distance only)', '',
        *within_group_lines(results, spec.scoring.metrics), '',
        '### Scoring time vs finetuning time', '', *timing_lines(results),
        *notes, ''
    ]
    atomic_write_text(report_path, text + '\n'.join(summary) + '\n')
    return report_path


__all__ = [
    'write_summary', 'timing_lines', 'best_source_lines', 'within_group_lines'
]
