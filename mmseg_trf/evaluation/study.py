"""Source selection measured over many runs (scene seeds x scenarios): each
method's criteria summarised with their spread, and the default chosen
by measurement (no MMSeg import)."""
import math
from typing import Dict, Hashable, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

from .ranking import batched_correlation
from .selection import decision_criteria, prior_fusion

#: The architecture prior's shares of a fusion with the metric that
#: :func:`choose_prior_share` compares: from the metric alone to the prior
#: alone, the metric breaking its ties at 9/10.
PRIOR_SHARES = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def summarise_runs(runs: Sequence[Mapping[str, Mapping[str, float]]],
                   criteria: Sequence[str],
                   confidence: float = 0.95,
                   seed: int = 0) -> Dict[str, Dict[str, dict]]:
    """Mean, range and bootstrap interval of the mean over runs.

    Args:
        runs (Sequence[Mapping]): Per run, method -> criterion -> value
            (NaN where undefined, left out).
        criteria (Sequence[str]): Criteria summarised.
        confidence (float): Level of the interval of the mean.
        seed (int): Bootstrap seed.

    Returns:
        dict: method -> criterion -> ``mean``, ``low``/``high`` (interval
        of the mean over runs), ``min``/``max`` and ``runs`` (how many).
    """
    methods = list(dict.fromkeys(m for run in runs for m in run))
    summary = {}
    for method in methods:
        summary[method] = {}
        for criterion in criteria:
            values = np.array([
                run[method].get(criterion, math.nan)
                for run in runs if method in run
            ], np.float64)
            values = values[np.isfinite(values)]
            summary[method][criterion] = mean_interval(values, confidence,
                                                       seed)
    return summary


def mean_interval(values: Sequence[float],
                  confidence: float = 0.95,
                  seed: int = 0) -> dict:
    """Mean of some values with a bootstrap percentile interval of the mean
    and their range (e.g. paired differences to a baseline).

    Args:
        values (Sequence[float]): Finite values.
        confidence (float): Interval level.
        seed (int): Bootstrap seed.

    Returns:
        dict: ``mean``, ``low``, ``high``, ``min``, ``max`` and ``runs``
        (how many values); the interval is the mean itself with fewer than
        3 values or no spread.
    """
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        return dict(
            mean=math.nan,
            low=math.nan,
            high=math.nan,
            min=math.nan,
            max=math.nan,
            runs=0)
    low = high = float(values.mean())
    if len(values) >= 3 and np.ptp(values) > 0:
        interval = stats.bootstrap((values, ),
                                   np.mean,
                                   confidence_level=confidence,
                                   method='percentile',
                                   n_resamples=5000,
                                   random_state=seed).confidence_interval
        low, high = float(interval.low), float(interval.high)
    return dict(
        mean=float(values.mean()),
        low=low,
        high=high,
        min=float(values.min()),
        max=float(values.max()),
        runs=len(values))


def choose_default(summary: Mapping[str, Mapping[str, dict]],
                   candidates: Sequence[str]) -> str:
    """The candidate with the best mean top-1 regret and mean Spearman
    together: the lowest sum of its two ranks (1 = best; equal means share
    the best rank, so the candidates' order plays no part), ties broken by
    the lower mean regret, then the higher mean Spearman.

    Args:
        summary (Mapping): :func:`summarise_runs` output.
        candidates (Sequence[str]): Methods that may become the default.

    Returns:
        str: The chosen method.
    """

    def mean(method, criterion):
        value = summary[method][criterion]['mean']
        return value if math.isfinite(
            value) else math.inf * (1 if criterion == 'regret' else -1)

    regrets = [mean(m, 'regret') for m in candidates]
    spearmans = [mean(m, 'spearman') for m in candidates]
    ranks = (
        stats.rankdata(regrets, method='min') +
        stats.rankdata(np.negative(spearmans), method='min'))
    best = min(
        zip(ranks, regrets, np.negative(spearmans), range(len(candidates))))
    return candidates[best[-1]]


def leave_one_group_out(
        runs: Sequence[Tuple[Hashable, Mapping[str, Mapping[str, float]]]],
        candidates: Sequence[str],
        criteria: Sequence[str] = ('spearman', 'regret'),
        choice_runs: Optional[Mapping[Hashable, Sequence]] = None) -> Dict:
    """Choose the default on every group of runs but one (e.g. every
    scenario but one) and report it on the one left out: the honest
    figures, since the left-out group played no part in the choice.

    Args:
        runs (Sequence): ``(group, method -> criterion -> value)`` per run.
        candidates (Sequence[str]): Methods that may become the default.
        criteria (Sequence[str]): Criteria summarised on the left-out
            group (``spearman`` and ``regret`` are needed to choose).
        choice_runs (Mapping, optional): Per left-out group, the runs its
            choice is made on, ``(group, row)`` like ``runs``. Default:
            the other groups' runs. Give them when a method learns from
            other groups (a prior from past targets): the other groups'
            rows re-scored without the left-out group, so it plays no part.

    Returns:
        dict: Per left-out group, ``chosen`` (the method chosen on the
        others) and ``left_out`` (its :func:`summarise_runs` criteria on
        the left-out runs); ``runner_up`` and ``runner_up_left_out``, the
        same for the method chosen on the others once ``chosen`` is taken
        away (None and ``{}`` with one candidate): how much the left-out
        figure hangs on the choice between the two.
    """
    groups = list(dict.fromkeys(group for group, _ in runs))
    if len(groups) < 2:
        raise ValueError('leave-one-group-out needs two or more groups; got '
                         f'{groups}')
    out = {}
    for held in groups:
        chosen_on = choice_runs[held] if choice_runs is not None else [
            (g, row) for g, row in runs if g != held
        ]
        others = summarise_runs([row for _, row in chosen_on], criteria)
        eligible = [c for c in candidates if c in others]
        chosen = choose_default(others, eligible)
        rest = [c for c in eligible if c != chosen]
        runner_up = choose_default(others, rest) if rest else None
        left = summarise_runs([row for g, row in runs if g == held], criteria)
        out[held] = dict(
            chosen=chosen,
            left_out=left.get(chosen, {}),
            runner_up=runner_up,
            runner_up_left_out=left.get(runner_up, {}))
    return out


def spearman_and_regret(scores: Sequence[float],
                        truth: Sequence[float]) -> Dict[str, float]:
    """The two criteria a choice is made on, as
    :func:`~mmseg_trf.evaluation.selection_criteria` gives them (sources
    with a NaN score left out; Spearman NaN under 3 of them or when all
    tie), without the others it computes."""
    scores = np.asarray(scores, np.float64)
    truth = np.asarray(truth, np.float64)
    keep = np.isfinite(scores) & np.isfinite(truth)
    spearman = batched_correlation(scores[keep], truth[keep],
                                   'spearman') if keep.sum() >= 3 else math.nan
    return dict(
        spearman=float(spearman),
        regret=decision_criteria(scores, truth)['regret'])


def choose_prior_share(past: Sequence[Tuple[Sequence, Sequence[float],
                                            Sequence[float]]],
                       shares: Sequence[float] = PRIOR_SHARES) -> float:
    """The prior's share in a fusion with a metric
    (:func:`~mmseg_trf.evaluation.prior_fusion`) that ranks past targets
    best, by :func:`choose_default`'s rule on the mean Spearman and top-1
    regret over them (a Spearman left undefined by ties counts as 0: a
    ranking that tells nothing; equal figures go to the share compared
    first).

    Args:
        past (Sequence): Per past target, ``(metric, prior, truth)``: per
            source its metric score (or K repetitions), its prior learnt
            without that target, and its finetuned mIoU.
        shares (Sequence[float]): The shares compared.

    Returns:
        float: The chosen share.
    """
    if not past:
        raise ValueError('choosing a prior\'s share needs past targets')
    rows = [{
        share:
        spearman_and_regret(prior_fusion(metric, prior, share), truth)
        for share in shares
    } for metric, prior, truth in past]

    def mean(share, criterion):
        values = np.array([row[share][criterion] for row in rows])
        if criterion == 'spearman':
            values = np.nan_to_num(values)
        return dict(mean=float(np.nanmean(values)))

    summary = {
        share: {
            c: mean(share, c)
            for c in ('spearman', 'regret')
        }
        for share in shares
    }
    return choose_default(summary, list(shares))


__all__ = [
    'summarise_runs', 'choose_default', 'mean_interval', 'leave_one_group_out',
    'PRIOR_SHARES', 'choose_prior_share'
]
