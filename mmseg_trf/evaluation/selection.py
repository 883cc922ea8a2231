"""What picking a source by a score costs, with uncertainty, baselines and
fused scores (no MMSeg import).

Decision criteria beside the rank correlations: top-1 regret (mIoU points
lost by finetuning the top-scored source instead of the best one), relative
top-1 accuracy and whether the best source is among the top 3 scored.
Intervals are bootstrap percentiles over sources (``scipy.stats.bootstrap``,
paired resampling of (score, truth)); the probability that a source is the
best comes from its K repetitions.
"""
import math
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

from .ranking import CORRELATIONS, batched_correlation, rank_correlations

DECISIONS = ('regret', 'relative_top1', 'top3')
#: Every criterion of :func:`selection_criteria`.
CRITERIA = CORRELATIONS + DECISIONS
#: Criteria reported with a bootstrap interval.
INTERVAL_CRITERIA = ('spearman', 'kendall', 'regret')
#: Criteria the bootstrap computes on all resamples at once.
BATCHED = ('spearman', 'kendall', 'pearson')
#: Resamples x sources^2 per batch (Kendall's pair signs: 32 MB a batch).
BATCH_CELLS = 4_000_000
FUSION_RULES = ('rank', 'zscore')


def _finite(scores: Sequence[float],
            truth: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, np.float64)
    truth = np.asarray(truth, np.float64)
    keep = np.isfinite(scores) & np.isfinite(truth)
    return scores[keep], truth[keep]


def decision_criteria(scores: Sequence[float],
                      truth: Sequence[float]) -> Dict[str, float]:
    """What following the scores' top pick gives.

    Args:
        scores (Sequence[float]): One score per source, higher = better
            (NaN = failed, left out).
        truth (Sequence[float]): Ground-truth mIoU per source, in [0, 1].

    Returns:
        dict: ``regret`` (mIoU points, 100 x (best truth - truth of the
        top-scored)), ``relative_top1`` (truth of the top-scored / best
        truth) and ``top3`` (1 if the best source is among the 3
        top-scored, else 0); NaN without two usable sources or when every
        score is the same (a constant score picks nothing). Sources tied at
        the top score are picked at random: their mean truth (the expected
        regret of a coarse prior such as a domain grade).
    """
    scores, truth = _finite(scores, truth)
    if len(scores) < 2 or np.ptp(scores) == 0:
        return {name: math.nan for name in DECISIONS}
    picked = truth[scores == scores.max()].mean()
    top3 = np.argsort(-scores, kind='stable')[:3]
    return dict(
        regret=float(100 * (truth.max() - picked)),
        relative_top1=float(picked / truth.max()),
        top3=float(np.argmax(truth) in top3))


def random_baseline(truth: Sequence[float]) -> Dict[str, float]:
    """Expected criteria of a uniformly random ranking (no information).

    Args:
        truth (Sequence[float]): Ground-truth mIoU per source.

    Returns:
        dict: Spearman, Kendall and Pearson 0; expected regret, relative
        top-1 accuracy and chance that the best is in a random top 3.
    """
    truth = np.asarray(truth, np.float64)
    truth = truth[np.isfinite(truth)]
    return dict(
        spearman=0.0,
        kendall=0.0,
        pearson=0.0,
        regret=float(100 * (truth.max() - truth.mean())),
        relative_top1=float(truth.mean() / truth.max()),
        top3=min(3, len(truth)) / len(truth))


def bootstrap_interval(scores: Sequence[float],
                       truth: Sequence[float],
                       criterion: str,
                       confidence: float = 0.95,
                       resamples: int = 2000,
                       seed: int = 0) -> Tuple[float, float]:
    """Bootstrap percentile interval of one criterion over sources.

    Sources are resampled with their (score, truth) pairs; resamples in
    which the criterion is undefined (e.g. all scores tied) are dropped.

    Args:
        scores (Sequence[float]): Scores per source.
        truth (Sequence[float]): Ground truth per source.
        criterion (str): A key of :func:`rank_correlations` or
            :func:`decision_criteria`.
        confidence (float): Interval level.
        resamples (int): Bootstrap resamples.
        seed (int): Random seed.

    Returns:
        tuple: ``(low, high)``; NaN with fewer than 3 usable sources or
        when the criterion is undefined in every resample (e.g. a constant
        score).
    """
    scores, truth = _finite(scores, truth)
    if len(scores) < 3:
        return math.nan, math.nan

    if criterion not in CRITERIA:
        raise ValueError(f'unknown criterion {criterion!r}; choose one of '
                         f'{CRITERIA}')
    batched = criterion in BATCHED

    def statistic(s, t, axis=-1):
        if batched:
            return batched_correlation(s, t, criterion)
        if criterion in DECISIONS:
            return decision_criteria(s, t)[criterion]
        return rank_correlations(s, t)[criterion]

    values = stats.bootstrap((scores, truth),
                             statistic,
                             paired=True,
                             vectorized=batched,
                             n_resamples=resamples,
                             batch=max(1, BATCH_CELLS // len(scores)**2),
                             method='percentile',
                             random_state=seed).bootstrap_distribution
    values = values[np.isfinite(values)]
    if not len(values):
        return math.nan, math.nan
    alpha = (1 - confidence) / 2
    return (float(np.quantile(values,
                              alpha)), float(np.quantile(values, 1 - alpha)))


def selection_criteria(scores: Sequence[float],
                       truth: Sequence[float],
                       intervals: bool = True) -> Dict[str, object]:
    """Every criterion of :data:`CRITERIA`, and for those of
    :data:`INTERVAL_CRITERIA` a 95% bootstrap interval under
    ``<name>_ci``."""
    out = dict(
        rank_correlations(scores, truth), **decision_criteria(scores, truth))
    if intervals:
        for name in INTERVAL_CRITERIA:
            out[f'{name}_ci'] = bootstrap_interval(scores, truth, name)
    return out


def probability_best(
        repetitions: Mapping[str, Sequence[float]]) -> Dict[str, float]:
    """How often each source scores highest across the K repetitions.

    Args:
        repetitions (Mapping[str, Sequence[float]]): Per source, its score
            in each repetition (same K for all; a source with fewer is
            compared on the repetitions it has).

    Returns:
        dict: Per source, the fraction of repetitions it wins (ties
        share the win).
    """
    names = list(repetitions)
    count = min(len(v) for v in repetitions.values())
    table = np.array([list(repetitions[n])[:count] for n in names],
                     np.float64).reshape(len(names), count)
    table = np.where(np.isfinite(table), table, -np.inf)
    wins = table == table.max(0, keepdims=True)
    share = (wins / wins.sum(0, keepdims=True)).mean(1)
    return {name: float(p) for name, p in zip(names, share)}


def architecture_prior(
        history: Iterable[Sequence[Tuple[str, float]]]) -> Dict[str, float]:
    """What past targets say of each architecture family: the mean over
    their sources of a family's rank-normalised finetuned mIoU (a source's
    rank among its target's sources divided by their number; 1 = the best
    of its target). A prior known before any image of a new target is seen.

    Args:
        history (Iterable): Per past target, ``(architecture, mIoU)`` of
            each source finetuned on it (two or more).

    Returns:
        dict: Architecture -> prior in (0, 1], higher = better; a family
        no past target had is absent.
    """
    ranks = {}
    for target in history:
        target = list(target)
        if len(target) < 2:
            raise ValueError('a past target of the architecture prior needs '
                             f'two or more sources; got {target}')
        values = stats.rankdata([miou for _, miou in target]) / len(target)
        for (family, _), rank in zip(target, values):
            ranks.setdefault(family, []).append(rank)
    return {family: float(np.mean(r)) for family, r in ranks.items()}


def fuse_scores(scores: Mapping[str, Sequence[float]],
                members: Sequence[str],
                rule: str = 'rank',
                weights: Optional[Sequence[float]] = None) -> np.ndarray:
    """One score per source from several metrics' scores.

    ``'rank'`` averages each metric's ranks (1 = lowest score; ties get
    their average rank), ``'zscore'`` averages standardised scores; both
    are invariant to each metric's scale, which differs by orders of
    magnitude between metrics. A source a member failed on (NaN) is fused
    from the members it has.

    Args:
        scores (Mapping[str, Sequence[float]]): Per metric, one score per
            source (same order).
        members (Sequence[str]): The metrics fused.
        rule (str): ``'rank'`` or ``'zscore'``.
        weights (Sequence[float], optional): Per member; equal by default.

    Returns:
        ndarray: Fused score per source, higher = better.
    """
    if rule not in FUSION_RULES:
        raise ValueError(f'unknown fusion rule {rule!r}; choose one of '
                         f'{FUSION_RULES}')
    missing = [m for m in members if m not in scores]
    if missing or not members:
        raise ValueError(f'fusion members {list(members)} need scores of '
                         f'each; missing {missing}')
    weights = np.ones(len(members)) if weights is None else np.asarray(
        weights, np.float64)
    columns = []
    for name in members:
        values = np.asarray(scores[name], np.float64)
        ok = np.isfinite(values)
        column = np.full(len(values), np.nan)
        if rule == 'rank':
            column[ok] = stats.rankdata(values[ok])
        else:
            spread = values[ok].std()
            column[ok] = (values[ok] - values[ok].mean()) / (spread or 1.0)
        columns.append(column)
    table = np.stack(columns, 1)
    used = np.isfinite(table) * weights
    return np.where(
        used.sum(1) > 0,
        np.nansum(table * weights, 1) / np.maximum(used.sum(1), 1e-300),
        np.nan)


def check_share(share: float) -> None:
    """A prior's share of a fusion is a weight in [0, 1], or a
    ``ValueError``."""
    if not 0 <= share <= 1:
        raise ValueError(f'a prior\'s share is in [0, 1]; got {share}')


def prior_fusion(metric: Sequence, prior: Sequence[float],
                 share: float) -> np.ndarray:
    """A metric and a prior fused by standardised scores, the prior
    weighing ``share`` and the metric the rest, repetition by repetition
    and averaged (what ``apis.report.add_history_fusion`` ranks by).

    Args:
        metric (Sequence): Per source, its score, or its scores over the K
            repetitions (sources x K).
        prior (Sequence[float]): Per source, the prior (NaN where unknown:
            that source is ranked by the metric alone).
        share (float): The prior's weight in [0, 1].

    Returns:
        ndarray: Fused score per source, higher = better.
    """
    check_share(share)
    metric = np.asarray(metric, np.float64).reshape(len(prior), -1)
    return np.mean([
        fuse_scores({
            'metric': column,
            'prior': prior
        }, ['metric', 'prior'], 'zscore', [1 - share, share])
        for column in metric.T
    ], 0)


__all__ = [
    'DECISIONS', 'CRITERIA', 'INTERVAL_CRITERIA', 'FUSION_RULES',
    'decision_criteria', 'selection_criteria', 'random_baseline',
    'bootstrap_interval', 'probability_best', 'architecture_prior',
    'fuse_scores', 'check_share', 'prior_fusion'
]
