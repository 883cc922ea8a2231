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


__all__ = ['rank_correlations', 'CORRELATIONS']
