"""How well transferability scores rank sources (no MMSeg import)."""
import math
from typing import Dict, Sequence

import numpy as np
from scipy import stats

CORRELATIONS = ('spearman', 'kendall', 'weighted_kendall', 'pearson')


def rank_correlations(scores: Sequence[float],
                      truth: Sequence[float]) -> Dict[str, float]:
    """Agreement of scores with the ground-truth transfer performance.

    Spearman's rho and Kendall's tau (the seed papers' criteria), weighted
    Kendall tau (``scipy.stats.weightedtau`` defaults) and Pearson's r
    (Agostinelli et al.). Sources whose score is NaN
    (a failed metric) are left out; fewer than 3 left gives NaN.

    Args:
        scores (Sequence[float]): One score per source, higher = better.
        truth (Sequence[float]): One ground-truth mIoU per source.

    Returns:
        dict[str, float]: The criteria of :data:`CORRELATIONS`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    keep = np.isfinite(scores) & np.isfinite(truth)
    scores, truth = scores[keep], truth[keep]
    if len(scores) < 3 or np.ptp(scores) == 0 or np.ptp(truth) == 0:
        return {name: math.nan for name in CORRELATIONS}
    return dict(
        spearman=float(stats.spearmanr(scores, truth).statistic),
        kendall=float(stats.kendalltau(scores, truth).statistic),
        weighted_kendall=float(stats.weightedtau(scores, truth).statistic),
        pearson=float(stats.pearsonr(scores, truth).statistic))


def batched_correlation(scores: np.ndarray, truth: np.ndarray,
                        criterion: str) -> np.ndarray:
    """Spearman's rho, Kendall's tau-b or Pearson's r of many samples at
    once, equal to :func:`rank_correlations`' for 3 or more sources (the
    bootstrap's statistic: thousands of resamples in one array operation
    instead of a scipy call each).

    Args:
        scores (np.ndarray): Scores, shape ``(..., n)``.
        truth (np.ndarray): Ground truth, the same shape.
        criterion (str): ``'spearman'``, ``'kendall'`` or ``'pearson'``.

    Returns:
        np.ndarray: One value per sample, shape ``(...)``; NaN where a
        sample's scores or truth are all equal.
    """
    scores, truth = np.broadcast_arrays(
        np.asarray(scores, np.float64), np.asarray(truth, np.float64))
    with np.errstate(invalid='ignore', divide='ignore'):
        if criterion == 'kendall':  # tau-b; each pair counted twice
            dx = np.sign(scores[..., :, None] - scores[..., None, :])
            dy = np.sign(truth[..., :, None] - truth[..., None, :])
            pairs = (-2, -1)
            return (dx * dy).sum(pairs) / np.sqrt(
                np.abs(dx).sum(pairs) * np.abs(dy).sum(pairs))
        if criterion == 'spearman':
            scores = stats.rankdata(scores, axis=-1)
            truth = stats.rankdata(truth, axis=-1)
        elif criterion != 'pearson':
            raise ValueError(f'no batched {criterion!r}')
        x = scores - scores.mean(-1, keepdims=True)
        y = truth - truth.mean(-1, keepdims=True)
        return (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))


__all__ = ['rank_correlations', 'batched_correlation', 'CORRELATIONS']
