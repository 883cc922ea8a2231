"""Finetuning budgets: learning curves, the plateau rule that defines a
converged ground truth, and source selection as a budgeted search
(metric-seeded successive halving) with its cost (no MMSeg import).

A learning curve is a run's validation mIoU at the iterations it was
validated, ``[(iteration, miou), ...]``. With a constant learning rate (the
protocol here: Adam, no schedule), a run stopped after ``b`` iterations is
the same run as a longer one up to ``b``, so one long run's curve also gives
every shorter budget's result: :func:`best_by`.
"""
import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import (Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Tuple)

import numpy as np

from .ranking import rank_correlations

Curve = Sequence[Tuple[int, float]]


def best_by(curve: Curve, iters: int) -> float:
    """Best validation mIoU of a run at or before ``iters`` (the result of
    the same run stopped there, best checkpoint kept); NaN if it was not
    validated by then."""
    values = [miou for it, miou in curve if it <= iters]
    return max(values) if values else math.nan


def level_by(curve: Curve, iters: int) -> float:
    """The level a run has reached by ``iters``: the mean validation mIoU
    over the second half of that budget, ``(iters / 2, iters]`` (the last
    validation at or before ``iters`` where none falls there; NaN if the
    run was not validated by then).

    :func:`best_by` is the max of noisy validations, so between two runs of
    the same level it favours the noisier; a mean over several validations
    is not biased that way and varies less. A rung of a search compares
    candidates by either (:data:`RUNG_SCORES`); the ground truth stays the
    best checkpoint (:func:`best_by`)."""
    values = [miou for it, miou in curve if iters / 2 < it <= iters]
    if values:
        return float(np.mean(values))
    earlier = [(it, miou) for it, miou in curve if it <= iters]
    return max(earlier)[1] if earlier else math.nan


#: How a search's rung compares its candidates: the best validation so far
#: (:func:`best_by`) or the level of the rung's second half
#: (:func:`level_by`).
RUNG_SCORES = {'best': best_by, 'level': level_by}


def check_rung_score(score: str) -> None:
    """Raise ``ValueError`` unless ``score`` is a key of
    :data:`RUNG_SCORES`."""
    if score not in RUNG_SCORES:
        raise ValueError(f'score must be one of {sorted(RUNG_SCORES)}, '
                         f'not {score!r}')


class ArchitectureGains:
    """What past finetuning runs say of how much a family still gains after
    a share of its budget, to compare a rung's fast and slow starters at
    the full budget rather than at the rung's.

    The expected gain of family ``a`` after a share ``s`` of a budget is the
    median over the family's past runs ``c`` (each to its own full budget
    ``B_c``, its last validation) of ``best_by(c, B_c) / best_by(c, s
    B_c)``; a rung's score of a source of family ``a`` finetuned for ``b`` of
    a full budget ``B`` is then ``score * gain(a, b / B)`` (a multiplicative
    extrapolation learnt on other targets, not on the run's own noisy
    curve). A family with fewer than ``min_runs`` past runs takes the gain
    pooled over every family.

    Args:
        history (Iterable): ``(family, curve)`` of each past finetuning run
            (one or more).
        min_runs (int): Fewest runs of a family for its own gain.
    """

    def __init__(self,
                 history: Iterable[Tuple[str, Curve]],
                 min_runs: int = 4):
        self.runs: Dict[str, List[Curve]] = {}
        for family, curve in history:
            self.runs.setdefault(family, []).append(curve)
        if not self.runs:
            raise ValueError('architecture gains need past runs')
        self.min_runs = min_runs
        self._cache: Dict[Tuple[Optional[str], Fraction], float] = {}

    def gain(self, family: str, share: Fraction) -> float:
        """Median past ratio of the full budget's best to the best after
        ``share`` of it (pooled where ``family`` has too few runs)."""
        if not 0 < share <= 1:
            raise ValueError(
                f'a share of the budget is in (0, 1]; got {share}')
        if len(self.runs.get(family, ())) < self.min_runs:
            family = None
        key = (family, Fraction(share))
        if key not in self._cache:
            curves = (
                self.runs[family] if family is not None else
                [c for runs in self.runs.values() for c in runs])
            ratios = []
            for curve in curves:
                full = curve_budget(curve)
                # validations fall on whole iterations: the floor is exact
                # and spares comparing each one with a Fraction
                early = best_by(curve, math.floor(share * full))
                if early > 0:
                    ratios.append(best_by(curve, full) / early)
            self._cache[key] = float(np.median(ratios)) if ratios else 1.0
        return self._cache[key]

    def scale(self, family: str, score: float, iters: int,
              full_budget: int) -> float:
        """A rung's ``score`` after ``iters`` of ``full_budget``, scaled by
        the family's expected gain from there to the full budget."""
        return score * self.gain(family, Fraction(iters, full_budget))


def rung_value(curve: Curve,
               iters: int,
               score: str = 'best',
               gains: Optional[ArchitectureGains] = None,
               family: Optional[str] = None,
               full_budget: Optional[int] = None) -> float:
    """What a rung compares a source by after ``iters`` of finetuning.

    Args:
        curve (Curve): The source's learning curve so far.
        iters (int): The rung's budget.
        score (str): A key of :data:`RUNG_SCORES`.
        gains (ArchitectureGains, optional): Past gains to scale the score
            by (:meth:`ArchitectureGains.scale`); unscaled without.
        family (str, optional): The source's family (with ``gains``).
        full_budget (int, optional): The budget scaled to (with ``gains``).

    Returns:
        float: The rung's value of the source.
    """
    value = RUNG_SCORES[score](curve, iters)
    if gains is None:
        return value
    return gains.scale(family, value, iters, full_budget)


def truth_at(curves: Mapping[str, Sequence[Curve]],
             iters: int,
             without: Optional[int] = None) -> Dict[str, float]:
    """Per source, the mean over its seeds' curves of :func:`best_by`: the
    ground truth that a protocol stopped at ``iters`` would have given.

    Args:
        curves (Mapping): Per source, one learning curve per finetuning
            seed (in the same seed order for every source).
        iters (int): The protocol's budget.
        without (int, optional): A seed's index left out of the mean: the
            truth to judge a choice made on that seed's own curves by, so
            that its luck on that seed is not also in its yardstick
            (needs two or more seeds).

    Returns:
        dict: Source -> truth.
    """
    truth = {}
    for name, runs in curves.items():
        kept = [c for seed, c in enumerate(runs) if seed != without]
        if not kept:
            raise ValueError(f'{name}: no seed is left once seed {without} '
                             f'is left out ({len(runs)} seeds)')
        truth[name] = float(np.mean([best_by(c, iters) for c in kept]))
    return truth


def seed_agreement(curves: Mapping[str, Sequence[Curve]], iters: int) -> float:
    """How well the ground truth agrees with itself: the Spearman
    correlation between the source rankings that two finetuning seeds
    alone give at ``iters``, averaged over every pair of seeds.

    A metric's Spearman against the truth can only be read against this:
    where the seeds disagree, the truth's ranking is partly finetuning
    noise that no metric can predict.

    Args:
        curves (Mapping): Per source, one learning curve per finetuning
            seed (two or more, in the same seed order for every source).
        iters (int): The protocol's budget.

    Returns:
        float: Mean Spearman over the pairs of seeds.
    """
    seeds = {len(runs) for runs in curves.values()}
    if len(seeds) != 1 or seeds.pop() < 2:
        raise ValueError('seed agreement needs the same two or more seeds '
                         'for every source')
    per_seed = np.array([[best_by(c, iters) for c in runs]
                         for runs in curves.values()])
    return float(
        np.mean([
            rank_correlations(per_seed[:, i], per_seed[:, j])['spearman']
            for i, j in itertools.combinations(range(per_seed.shape[1]), 2)
        ]))


def curve_budget(curve: Curve) -> int:
    """The last validated iteration of a curve."""
    return max(it for it, _ in curve)


@dataclass
class Plateau:
    """The plateau rule's verdict on one protocol (see :func:`plateau`).

    Attributes:
        gains (dict): Per source, the mean over seeds of what its best
            validation mIoU gained in the budget's last quarter.
        noise (float): Seed-to-seed noise: per source the std over seeds
            (ddof 1) of the best mIoU over the first three quarters,
            averaged over sources.
        plateaued (dict): Per source, whether its gain is below the noise.
        converged (bool): Whether at least ``most`` of the sources have.
    """

    gains: Dict[str, float]
    noise: float
    plateaued: Dict[str, bool]
    converged: bool

    @property
    def share(self) -> float:
        """The share of sources that plateaued."""
        return float(np.mean(list(self.plateaued.values())))


def plateau(curves: Mapping[str, Sequence[Curve]],
            most: float = 0.75) -> Plateau:
    """The plateau rule: a budget has converged when, for ``most`` of the
    sources, the best validation mIoU of the last quarter of the budget
    gains less than the seed-to-seed noise measured over the first three
    quarters.

    Args:
        curves (Mapping): Per source, one learning curve per finetuning
            seed (two or more seeds, else there is no noise to compare
            with), all to the same budget.
        most (float): The share of sources that must have plateaued.

    Returns:
        Plateau: Gains, noise and verdicts.
    """
    gains, spreads = {}, []
    for name, runs in curves.items():
        if len(runs) < 2:
            raise ValueError(f'the plateau rule needs two or more seeds; '
                             f'{name} has {len(runs)}')
        budget = min(curve_budget(c) for c in runs)
        early = [best_by(c, 0.75 * budget) for c in runs]
        final = [best_by(c, budget) for c in runs]
        if not np.all(np.isfinite(early)):
            raise ValueError(f'{name}: a run was not validated in the first '
                             'three quarters of its budget')
        gains[name] = float(np.mean(np.subtract(final, early)))
        spreads.append(float(np.std(early, ddof=1)))
    noise = float(np.mean(spreads))
    plateaued = {name: gain < noise for name, gain in gains.items()}
    return Plateau(gains, noise, plateaued,
                   bool(np.mean(list(plateaued.values())) >= most))


@dataclass
class SearchResult:
    """What a budgeted search did and what it cost.

    Attributes:
        pick (str): The chosen source.
        iterations (int): Finetuning iterations spent, every source's
            increments added.
        rungs (list): Per rung, its budget and ``{source: mIoU}`` of the
            sources finetuned to it.
    """

    pick: str
    iterations: int
    rungs: List[Tuple[int, Dict[str, float]]] = field(default_factory=list)

    def cost(self, sources: int, full_budget: int) -> float:
        """Spent iterations as a fraction of finetuning all ``sources``
        for ``full_budget`` iterations each."""
        return self.iterations / (sources * full_budget)


def rung_budgets(min_iters: int, max_iters: int, eta: int = 2) -> List[int]:
    """``min_iters, eta * min_iters, ...`` up to and including
    ``max_iters`` (the last rung is ``max_iters`` itself)."""
    if not 0 < min_iters <= max_iters or eta < 2:
        raise ValueError('need 0 < min_iters <= max_iters and eta >= 2; got '
                         f'{min_iters}, {max_iters}, {eta}')
    budgets = [min_iters]
    while budgets[-1] * eta < max_iters:
        budgets.append(budgets[-1] * eta)
    if budgets[-1] != max_iters:
        budgets.append(max_iters)
    return budgets


def successive_halving(candidates: Sequence[str],
                       finetune: Callable[[str, int], float],
                       budgets: Sequence[int],
                       eta: int = 2,
                       keep_first: bool = False) -> SearchResult:
    """Metric-seeded successive halving.

    Every candidate is finetuned to the first budget; the best
    ``ceil(n / eta)`` by validation mIoU continue to the next budget
    (finetuning goes on from where it stopped, so a rung costs only its
    increment), and so on until one is left, which is picked. A single
    candidate is picked without finetuning. With ``keep_first``, the
    metric's pick (the first candidate) continues from every rung as well,
    so that a rival replaces it only by beating it at a later rung.

    Args:
        candidates (Sequence[str]): Sources in the metric's order (the
            best-scored first; ties in mIoU keep this order).
        finetune (callable): ``finetune(source, iters)`` -> best validation
            mIoU of that source finetuned for ``iters`` iterations.
        budgets (Sequence[int]): Increasing rung budgets
            (:func:`rung_budgets`).
        eta (int): The fraction ``1 / eta`` of a rung continues.
        keep_first (bool): The first candidate continues from every rung
            besides those ``1 / eta``; the last rung picks by mIoU alone.

    Returns:
        SearchResult: The pick, the iterations spent and every rung.
    """
    alive = list(candidates)
    if not alive:
        raise ValueError('successive halving needs at least one candidate')
    spent, done, rungs = 0, {}, []
    for budget in budgets:
        if len(alive) == 1:
            break
        results = {}
        for name in alive:
            results[name] = finetune(name, budget)
            spent += budget - done.get(name, 0)
            done[name] = budget
        rungs.append((budget, results))
        order = sorted(alive, key=lambda n: -_finite(results[n]))
        kept = order[:max(1, math.ceil(len(alive) / eta))]
        if keep_first and candidates[0] in order[len(kept):]:
            kept.append(candidates[0])  # after the best: it may still lose
        alive = kept
    if len(alive) > 1:  # budgets ran out: the best of the last rung
        alive = alive[:1]
    return SearchResult(alive[0], spent, rungs)


def share_count(share: Fraction, total: int) -> int:
    """How many of ``total`` sources a share of them is: ``ceil(share *
    total)``, at least one (exact for a :class:`~fractions.Fraction`)."""
    return max(1, math.ceil(share * total))


@dataclass(frozen=True)
class SearchDesign:
    """Metric-seeded successive halving in fractions, so that one design
    serves any number of sources and any full finetuning budget.

    Attributes:
        width (Fraction): Share of the sources, best-scored first, that
            enter the search (at least one).
        first (Fraction): The first rung, a share of the full budget.
        last (Fraction): The last rung, a share of the full budget (the
            survivors are compared there; the search ends at an earlier
            rung once one candidate is left, e.g. six candidates with
            ``eta`` 3 from a first rung of 1/10 end at 3/10).
        eta (int): ``1 / eta`` of each rung continues.
        score (str): How a rung compares its candidates, a key of
            :data:`RUNG_SCORES`.
        scaled (bool): Whether a rung's scores are scaled by each family's
            expected gain to the full budget (:class:`ArchitectureGains`).
        keep_first (bool): Whether the metric's pick continues from every
            rung (:func:`successive_halving`).
    """

    width: Fraction
    first: Fraction
    last: Fraction = Fraction(1)
    eta: int = 2
    score: str = 'best'
    scaled: bool = False
    keep_first: bool = False

    def __post_init__(self):
        if not (0 < self.width <= 1 and 0 < self.first <= self.last <= 1
                and self.eta >= 2):
            raise ValueError('need 0 < width <= 1, 0 < first <= last <= 1 '
                             f'and eta >= 2; got {self}')
        check_rung_score(self.score)

    @property
    def name(self) -> str:
        entering = 'all sources' if self.width == 1 else f'top {self.width}'
        ranked = ', ranked by level' if self.score == 'level' else ''
        scaled = ', scaled by past gains' if self.scaled else ''
        first = ', the metric\'s pick kept' if self.keep_first else ''
        return (f'{entering}, {self.first} to {self.last} of the budget, '
                f'1/{self.eta} kept{ranked}{scaled}{first}')

    def candidates(self, order: Sequence[str]) -> List[str]:
        """The sources that enter: the top ``ceil(width * n)``."""
        return list(order[:share_count(self.width, len(order))])

    def budgets(self, full_budget: int) -> List[int]:
        """The rungs' iterations for a full budget."""
        return rung_budgets(
            max(1, round(self.first * full_budget)),
            max(1, round(self.last * full_budget)), self.eta)


def choose_search_design(
        runs: Sequence[Mapping[SearchDesign, Tuple[float, float]]],
        max_cost: float = 0.25,
        rule: str = 'worst',
        scenarios: Optional[Sequence[str]] = None) -> SearchDesign:
    """The search design to recommend from simulated runs, among the
    designs that cost at most ``max_cost`` (a fraction of finetuning every
    source fully) in every run.

    Args:
        runs (Sequence[Mapping]): Per run (e.g. a scenario), design ->
            ``(cost, regret)``.
        max_cost (float): The affordable cost.
        rule (str): ``'worst'``: the lowest worst-run top-1 regret, then
            the lowest mean regret; ``'mean'``: the lowest mean regret,
            then the lowest worst; ``'scenario'``: the worst-run rule with
            each scenario one run, its regret the mean over its runs and
            its cost their highest. Each then takes the lowest mean cost;
            a tie (to 1e-9) goes to the design listed first.
            The worst-run rule hangs on the few runs where a design fails
            and so can change with a single added run; the mean rule
            weighs every run alike; the worst-scenario rule judges each
            scenario as a goal of "every scenario" does.
        scenarios (Sequence[str], optional): Each run's scenario; needed
            by the worst-scenario rule only.

    Returns:
        SearchDesign: The chosen design.
    """
    designs = list(runs[0])
    cost = np.array([[run[d][0] for d in designs] for run in runs])
    regret = np.array([[run[d][1] for d in designs] for run in runs])
    return designs[chosen_design_index(cost, regret, max_cost, rule,
                                       scenarios)]


def chosen_design_index(cost: np.ndarray,
                        regret: np.ndarray,
                        max_cost: float = 0.25,
                        rule: str = 'worst',
                        scenarios: Optional[Sequence] = None) -> int:
    """:func:`choose_search_design` on arrays: the column it picks.

    Args:
        cost (np.ndarray): Cost per run (rows) and design (columns).
        regret (np.ndarray): Top-1 regret, the same shape.
        max_cost (float): The affordable cost.
        rule (str): ``'worst'``, ``'mean'`` or ``'scenario'``
            (:func:`choose_search_design`).
        scenarios (Sequence, optional): Each row's scenario (the
            worst-scenario rule).

    Returns:
        int: The chosen design's column.
    """
    if rule not in ('worst', 'mean', 'scenario'):
        raise ValueError("rule must be 'worst', 'mean' or 'scenario', not "
                         f'{rule!r}')
    if rule == 'scenario':
        if scenarios is None:
            raise ValueError("the 'scenario' rule needs each run's scenario")
        cost, regret = per_scenario(cost, regret, scenarios)
        rule = 'worst'
    affordable = (cost <= max_cost).all(0)
    if not affordable.any():
        raise ValueError(f'no design costs at most {max_cost} in every run')
    # rounded, so that a tie is a tie whatever the order of the sums
    worst, mean = regret.max(0), regret.mean(0).round(9)
    keys = (worst, mean) if rule == 'worst' else (mean, worst)
    # lexsort's last key is the first compared; it is stable, so a tie
    # goes to the design listed first
    ranked = np.lexsort((cost.mean(0).round(9), *keys[::-1]))
    return int(next(i for i in ranked if affordable[i]))


def per_scenario(cost: np.ndarray, regret: np.ndarray,
                 scenarios: Sequence) -> Tuple[np.ndarray, np.ndarray]:
    """Runs (rows) merged by scenario, in order of first appearance: each
    scenario's highest cost and mean regret per design (column)."""
    scenarios = np.asarray(scenarios)
    rows = [scenarios == s for s in dict.fromkeys(scenarios.tolist())]
    return (np.stack([cost[row].max(0) for row in rows]),
            np.stack([regret[row].mean(0) for row in rows]))


def search_width(probability_best: Mapping[str, float],
                 order: Sequence[str],
                 coverage: float = 0.9,
                 minimum: int = 2) -> int:
    """How many of the metric's top sources enter the search: the fewest
    whose probability of being the best (the share of the K repetitions
    each wins) adds up to ``coverage``, at least ``minimum``.

    Args:
        probability_best (Mapping): Source -> P(best) over repetitions.
        order (Sequence[str]): Sources by decreasing score.
        coverage (float): Probability mass the candidates must hold.
        minimum (int): Fewest candidates.

    Returns:
        int: The width, at most ``len(order)``.
    """
    total, width = 0.0, 0
    for width, name in enumerate(order, 1):
        total += probability_best.get(name, 0.0)
        if total >= coverage - 1e-12:
            break
    return min(len(order), max(minimum, width))


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


__all__ = [
    'Curve', 'best_by', 'level_by', 'RUNG_SCORES', 'check_rung_score',
    'ArchitectureGains', 'rung_value', 'truth_at', 'curve_budget', 'Plateau',
    'plateau', 'SearchResult', 'rung_budgets', 'successive_halving',
    'share_count', 'SearchDesign', 'choose_search_design',
    'chosen_design_index', 'search_width'
]
