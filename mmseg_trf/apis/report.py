"""Ranking tables (Markdown, CSV, JSON), correlations and score-vs-mIoU
plots of a source-selection run."""
import csv
import json
import math
import os
import os.path as osp
from dataclasses import asdict
from typing import Dict, List, Sequence

from ..evaluation import CRITERIA, rank_correlations
from .cache import atomic_write, atomic_write_text
from .scoring import SourceResult


def fmt_number(value: float, digits: int = 4) -> str:
    """A table cell: the value rounded, or ``-`` when missing or NaN."""
    return '-' if value is None or not math.isfinite(value) else \
        f'{value:.{digits}f}'


def ranking_order(results: Sequence[SourceResult],
                  metric: str) -> List[SourceResult]:
    """Sources by decreasing score of ``metric``; failed ones last."""

    def key(r):
        m = r.metrics.get(metric)
        ok = m is not None and m.error is None and math.isfinite(m.mean)
        return (not ok, -(m.mean if ok else 0.0))

    return sorted(results, key=key)


def correlations(results: Sequence[SourceResult],
                 metrics: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per metric, the :func:`rank_correlations` with the ground truth."""
    truth = [r.miou if r.miou is not None else math.nan for r in results]
    return {
        name:
        rank_correlations([
            r.metrics[name].mean if name in r.metrics else math.nan
            for r in results
        ], truth)
        for name in metrics
    }


def markdown_table(results: Sequence[SourceResult],
                   metrics: Sequence[str]) -> str:
    """The ranking by the first metric, every metric's mean +- std, time."""
    header = (['rank', 'source'] + [f'{m} (mean +- std)' for m in metrics] +
              [f'{m} time (s)'
               for m in metrics] + ['extraction (s)', 'mIoU', 'status'])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for rank, r in enumerate(ranking_order(results, metrics[0]), 1):
        scores = [
            f'{fmt_number(r.metrics[m].mean)} +- '
            f'{fmt_number(r.metrics[m].std)}'
            if m in r.metrics and r.metrics[m].error is None else 'failed'
            for m in metrics
        ]
        times = [
            fmt_number(r.metrics[m].seconds, 2) if m in r.metrics else '-'
            for m in metrics
        ]
        errors = [
            f'{m}: {r.metrics[m].error}' for m in metrics
            if m in r.metrics and r.metrics[m].error
        ]
        status = r.error or '; '.join(errors) or 'ok'
        lines.append('| ' + ' | '.join([str(rank), r.name] + scores + times + [
            fmt_number(r.extract_seconds, 2),
            fmt_number(r.miou),
            status.replace('|', '/')
        ]) + ' |')
    return '\n'.join(lines)


def correlation_table(corr: Dict[str, Dict[str, float]]) -> str:
    """One row per metric, one column per criterion."""
    lines = [
        '| metric | ' + ' | '.join(CRITERIA) + ' |',
        '|' + '---|' * (len(CRITERIA) + 1)
    ]
    for name, values in corr.items():
        lines.append(f'| {name} | ' +
                     ' | '.join(fmt_number(values[c], 3)
                                for c in CRITERIA) + ' |')
    return '\n'.join(lines)


def scatter_plots(results: Sequence[SourceResult], metrics: Sequence[str],
                  corr: Dict[str, Dict[str, float]], path: str) -> str:
    """Score vs ground-truth mIoU, one panel per metric (the seed's Fig. 4).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    cols = min(len(metrics), 3)
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, metrics):
        points = [(r.metrics[name].mean, r.miou, r.name) for r in results
                  if r.miou is not None and name in r.metrics
                  and r.metrics[name].error is None]
        for score, miou, label in points:
            ax.scatter(score, miou, color='tab:blue')
            ax.annotate(
                label, (score, miou),
                fontsize=7,
                textcoords='offset points',
                xytext=(3, 3))
        c = corr[name]
        ax.set_title(
            f'{name}: rho={fmt_number(c["spearman"], 2)}, '
            f'tau={fmt_number(c["kendall"], 2)}',
            fontsize=10)
        ax.set_xlabel(f'{name} score')
        ax.set_ylabel('transfer mIoU')
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis('off')
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format='png'))
    plt.close(fig)
    return path


def write_reports(results: Sequence[SourceResult], metrics: Sequence[str],
                  work_dir: str, settings: dict) -> Dict[str, str]:
    """Write ``ranking.md``, ``ranking.csv``, ``ranking.json`` and, with
    ground truth, ``score_vs_miou.png``.

    Returns:
        dict[str, str]: What was written where.
    """
    os.makedirs(work_dir, exist_ok=True)
    have_truth = sum(r.miou is not None for r in results) >= 2
    corr = correlations(results, metrics) if have_truth else None
    written = {}
    text = [
        '# Source ranking', '', f'Settings: `{json.dumps(settings)}`', '',
        markdown_table(results, metrics)
    ]
    if corr:
        text += [
            '', '## Agreement with the ground-truth mIoU', '',
            correlation_table(corr)
        ]
    written['markdown'] = osp.join(work_dir, 'ranking.md')
    atomic_write_text(written['markdown'], '\n'.join(text) + '\n')

    def write_csv(tmp):
        with open(tmp, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['source'] + [
                f'{m}_{k}' for m in metrics
                for k in ('mean', 'std', 'seconds', 'error')
            ] + ['extract_seconds', 'miou', 'error'])
            for r in results:
                row = [r.name]
                for m in metrics:
                    res = r.metrics.get(m)
                    row += ([res.mean, res.std, res.seconds, res.error or '']
                            if res else ['', '', '', ''])
                writer.writerow(row +
                                [r.extract_seconds, r.miou, r.error or ''])

    written['csv'] = osp.join(work_dir, 'ranking.csv')
    atomic_write(written['csv'], write_csv)
    written['json'] = osp.join(work_dir, 'ranking.json')
    payload = dict(
        settings=settings,
        sources=[asdict(r) for r in results],
        correlations=corr)
    atomic_write_text(written['json'],
                      json.dumps(payload, indent=2, default=str))
    if corr:
        written['plot'] = scatter_plots(
            results, metrics, corr, osp.join(work_dir, 'score_vs_miou.png'))
    return written


__all__ = [
    'fmt_number', 'write_reports', 'markdown_table', 'correlation_table',
    'correlations', 'scatter_plots', 'ranking_order'
]
