"""Ranking tables (Markdown, CSV, JSON), correlations and score-vs-mIoU
plots of a source-selection run."""
import csv
import json
import math
import os
import os.path as osp
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..evaluation import (CRITERIA, check_share, fuse_scores, probability_best,
                          random_baseline, selection_criteria)
from ..fileio import atomic_write, atomic_write_text
from .scoring import MetricResult, ScoringSettings, SourceResult

#: Rows of the agreement table that are baselines, not metrics.
RANDOM, PRIOR = 'random (expected)', 'prior: parameter count'
SOURCE_PRIOR = 'prior: source mIoU'
#: The fusion members that are priors, not metrics: the source's own
#: validation mIoU and its architecture family's past finetuning results
#: (:func:`~mmseg_trf.evaluation.architecture_prior`), by the
#: :class:`SourceResult` field that holds each.
SOURCE_MIOU, ARCHITECTURE = 'source-miou', 'architecture'
PRIORS = {SOURCE_MIOU: 'source_miou', ARCHITECTURE: 'architecture_prior'}
#: The fused score's name in a ranking (``score_sources --metrics fusion``).
FUSION = 'fusion'
#: The tools' ranking: the fusion of the default metrics first, fused by
#: ``FUSION_RULE``. Both are the leave-one-scenario-out protocol's choice
#: against the longest finetuning truth (docs/en/source_selection.md).
DEFAULT_RANKING = (FUSION, *ScoringSettings.metrics)
FUSION_RULE = 'zscore'
#: The fused score and the architecture prior fused
#: (:func:`add_history_fusion`): what the tools rank by first when a
#: history of past targets is given, the protocol's choice with it.
HISTORY_FUSION = 'fusion + architecture'
#: The architecture prior's share in ``HISTORY_FUSION``: the share the
#: selection study learns on every run it has (its ``learnt_share``; a
#: test keeps the two equal), so the metrics order sources the prior ties.
HISTORY_PRIOR_SHARE = 0.9


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


def results_from_ranking(ranking: dict) -> List[SourceResult]:
    """The :class:`SourceResult` list of a ``ranking.json``."""
    return [
        SourceResult(**dict(
            source,
            metrics={
                k: MetricResult(**v)
                for k, v in source['metrics'].items()
            })) for source in ranking['sources']
    ]


def _scores(results: Sequence[SourceResult], metric: str) -> List[float]:
    return [
        r.metrics[metric].mean if metric in r.metrics
        and r.metrics[metric].error is None else math.nan for r in results
    ]


def correlations(results: Sequence[SourceResult],
                 metrics: Sequence[str],
                 intervals: bool = True) -> Dict[str, Dict[str, float]]:
    """Per metric, its :func:`selection_criteria` with the ground truth,
    and the same for two baselines: a random ranking (expected values)
    and, when every source's size is known, the static prior "larger model
    first", which needs no target data.

    Args:
        intervals (bool): add the bootstrap intervals (most of the time
            spent here). Default: True.
    """
    truth = [r.miou if r.miou is not None else math.nan for r in results]
    rows = {
        name: selection_criteria(_scores(results, name), truth, intervals)
        for name in metrics
    }
    rows[RANDOM] = dict({c: math.nan
                         for c in CRITERIA}, **random_baseline(truth))
    if all(r.parameters for r in results):
        rows[PRIOR] = selection_criteria([r.parameters for r in results],
                                         truth, intervals)
    if all(r.source_miou is not None for r in results):
        rows[SOURCE_PRIOR] = selection_criteria(
            [r.source_miou for r in results], truth, intervals)
    return rows


def add_fusion(results: Sequence[SourceResult],
               members: Sequence[str],
               rule: str = FUSION_RULE,
               name: str = FUSION,
               weights: Optional[Sequence[float]] = None) -> None:
    """Add a fused score (:func:`~mmseg_trf.evaluation.fuse_scores` of
    ``members``, with ``weights`` or equal) to every result, fused
    repetition by repetition so that it has a spread like the others. The
    members in ``PRIORS`` are the sources' priors (the same in every
    repetition)."""
    reps = min((len(r.metrics[m].values) for r in results
                for m in members if m in r.metrics and r.metrics[m].values),
               default=0)
    if reps == 0:
        for r in results:
            r.metrics[name] = MetricResult(
                error=f'no repetition of {list(members)} to fuse')
        return
    for prior in PRIORS.keys() & set(members):
        for r in results:
            value = getattr(r, PRIORS[prior])
            r.metrics[prior] = MetricResult(
                value, 0.0, values=[value] *
                reps) if value is not None else MetricResult(
                    error=f'its {prior} prior is not known')
    per_rep = []
    for rep in range(reps):
        per_rep.append(
            fuse_scores(
                {
                    m: [
                        r.metrics[m].values[rep] if m in r.metrics
                        and len(r.metrics[m].values) > rep else math.nan
                        for r in results
                    ]
                    for m in members
                }, members, rule, weights))
    table = np.stack(per_rep, 1)
    for r, values in zip(results, table):
        r.metrics[name] = (
            MetricResult(
                float(values.mean()),
                float(values.std()),
                values=values.tolist()) if np.isfinite(values).all() else
            MetricResult(error=f'no member of {list(members)} scored it'))


def add_history_fusion(results: Sequence[SourceResult],
                       fusion: str = FUSION,
                       rule: str = FUSION_RULE,
                       name: str = HISTORY_FUSION,
                       share: float = HISTORY_PRIOR_SHARE) -> None:
    """Add the fused score ``fusion`` (already added) and the architecture
    prior fused, the prior weighing ``share`` (in [0, 1]) and the fused
    score the rest: what the target's pixels say and what past targets say
    of each architecture family (with ``'zscore'``,
    :func:`~mmseg_trf.evaluation.prior_fusion`). A source whose family the
    history lacks keeps its fused score's standardised value alone."""
    check_share(share)
    add_fusion(results, [fusion, ARCHITECTURE], rule, name, [1 - share, share])


def ranked_metrics(metrics: Sequence[str], history: bool) -> List[str]:
    """The table's columns, the first ordering the ranking: ``metrics``,
    led by ``HISTORY_FUSION`` when a history is given and ``fusion`` is
    scored."""
    lead = [HISTORY_FUSION] if history and FUSION in metrics else []
    return lead + list(metrics)


def markdown_table(results: Sequence[SourceResult],
                   metrics: Sequence[str]) -> str:
    """The ranking by the first metric, every metric's mean +- std, the
    probability that each source is the best by the first metric (share
    of the K repetitions it wins), time."""
    first = metrics[0]
    best = probability_best({
        r.name: r.metrics[first].values
        for r in results if first in r.metrics and r.metrics[first].values
    }) if any(first in r.metrics and r.metrics[first].values
              for r in results) else {}
    header = (['rank', 'source'] + [f'{m} (mean +- std)' for m in metrics] +
              [f'P(best by {first})'] + [f'{m} time (s)' for m in metrics] +
              ['extraction (s)', 'mIoU', 'status'])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for rank, r in enumerate(ranking_order(results, first), 1):
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
        lines.append('| ' + ' | '.join(
            [str(rank), r.name] + scores +
            [fmt_number(best.get(r.name, math.nan), 2)] + times + [
                fmt_number(r.extract_seconds, 2),
                fmt_number(r.miou), ' '.join(status.replace('|', '/').split())
            ]) + ' |')
    return '\n'.join(lines)


def _cell(values: Dict[str, object], criterion: str) -> str:
    text = fmt_number(
        values.get(criterion, math.nan), 2 if criterion == 'regret' else 3)
    low, high = values.get(f'{criterion}_ci', (math.nan, math.nan))
    if math.isfinite(low) and math.isfinite(high):
        text += (f' [{fmt_number(low, 2)}, {fmt_number(high, 2)}]')
    return text


def correlation_table(corr: Dict[str, Dict[str, object]]) -> str:
    """One row per metric or baseline, one column per criterion (95%
    bootstrap intervals over sources in brackets; regret in mIoU points).
    """
    lines = [
        '| metric | ' + ' | '.join(CRITERIA) + ' |',
        '|' + '---|' * (len(CRITERIA) + 1)
    ]
    for name, values in corr.items():
        lines.append(f'| {name} | ' +
                     ' | '.join(_cell(values, c) for c in CRITERIA) + ' |')
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
    ground truth, ``score_vs_miou.png``. The ranking is written before the
    analyses (correlations, intervals, plots), so a failing analysis never
    loses the scores.

    Returns:
        dict[str, str]: What was written where.
    """
    os.makedirs(work_dir, exist_ok=True)
    written = _write_ranking(results, metrics, work_dir, settings, None)
    if sum(r.miou is not None for r in results) >= 2:
        corr = correlations(results, metrics)
        written = _write_ranking(results, metrics, work_dir, settings, corr)
        written['plot'] = scatter_plots(
            results, metrics, corr, osp.join(work_dir, 'score_vs_miou.png'))
    return written


def _write_ranking(results: Sequence[SourceResult], metrics: Sequence[str],
                   work_dir: str, settings: dict,
                   corr: Optional[dict]) -> Dict[str, str]:
    """The ranking as Markdown, CSV and JSON (with the correlations when
    given)."""
    written = {}
    text = [
        '# Source ranking', '', f'Settings: `{json.dumps(settings)}`', '',
        markdown_table(results, metrics)
    ]
    if corr:
        text += [
            '', '## Agreement with the ground-truth mIoU', '',
            'Regret: mIoU points lost by finetuning the top-scored source '
            'instead of the best; top3: the best source is among the 3 '
            'top-scored. Brackets: 95% bootstrap intervals over sources. '
            f'"{RANDOM}" is what a ranking without information gives; a '
            'metric should beat it and the static prior; "-": undefined '
            '(e.g. a score that is the same for every source).', '',
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
    return written


__all__ = [
    'fmt_number', 'write_reports', 'markdown_table', 'correlation_table',
    'correlations', 'add_fusion', 'add_history_fusion', 'ranked_metrics',
    'scatter_plots', 'ranking_order', 'results_from_ranking', 'SOURCE_PRIOR',
    'SOURCE_MIOU', 'ARCHITECTURE', 'PRIORS', 'FUSION', 'DEFAULT_RANKING',
    'FUSION_RULE', 'HISTORY_FUSION', 'HISTORY_PRIOR_SHARE'
]
