"""Source selection as a budgeted search on the runner: rank by a metric,
then finetune the top candidates briefly, keep the better share, continue
them, and pick the best (metric-seeded successive halving).

The defaults (the top two thirds by the metric, half kept per rung,
rungs from 1/10 to 1/2 of a full finetuning budget) are the design
docs/en/source_selection.md's study chooses over its scenarios;
``tools/select_source.py`` uses them too."""
from fractions import Fraction
from typing import Dict, Optional, Union

from ..apis.report import ranking_order, results_from_ranking
from ..evaluation import (ArchitectureGains, check_rung_score,
                          probability_best, rung_budgets, rung_value,
                          search_width, share_count, successive_halving)
from .runner import BenchmarkRunner

#: Candidates searched and the share kept per rung by default.
DEFAULT_WIDTH = Fraction(2, 3)
DEFAULT_ETA = 2
#: The first and last rung's budgets as shares of a full finetuning budget.
DEFAULT_RUNGS = (Fraction(1, 10), Fraction(1, 2))


def budgeted_search(runner: BenchmarkRunner,
                    target: str,
                    metric: str,
                    min_iters: int,
                    max_iters: int,
                    width: Union[int, str, Fraction] = DEFAULT_WIDTH,
                    eta: int = DEFAULT_ETA,
                    seed: int = 0,
                    score: str = 'best',
                    gains: Optional[ArchitectureGains] = None,
                    full_iters: Optional[int] = None,
                    keep_first: bool = False) -> Dict:
    """Pick a source for ``target`` with a finetuning budget.

    Sources are trained if they have no checkpoint and scored (cached runner
    steps); the ``width`` best by ``metric`` are finetuned ``min_iters``
    iterations, the best ``1 / eta`` of them continue to ``eta`` times that
    budget, and so on up to ``max_iters``, until one is left. Every rung of
    every source is a cached step that goes on from the previous rung's
    checkpoint, with a progress line.

    Args:
        runner (BenchmarkRunner): The runner (local or Slurm executor).
        target (str): A target name of the runner's spec.
        metric (str): The metric that orders the candidates.
        min_iters (int): The first rung's budget.
        max_iters (int): The full finetuning budget (the last rung).
        width (int | str | Fraction): Candidates that enter the search: a
            number, a share of the sources (``Fraction(1, 2)``: the top
            half, rounded up) or ``'auto'``: the fewest of the top
            sources whose probability of being the best over the K
            repetitions adds up to 0.9 (at least 2).
        eta (int): ``1 / eta`` of each rung continues.
        seed (int): Finetuning seed.
        score (str): How a rung compares its candidates: ``'best'``
            validation so far or ``'level'``, the mean validation of the
            rung's second half (:data:`~mmseg_trf.evaluation.RUNG_SCORES`).
        gains (ArchitectureGains, optional): Past runs' gains: each rung's
            score of a source is scaled by its family's expected gain from
            the rung to ``full_iters`` (each source names its
            ``architecture`` in the spec).
        full_iters (int, optional): The full finetuning budget the gains
            extrapolate to (needed with ``gains``).
        keep_first (bool): The metric's pick continues from every rung, so
            that a rival replaces it only by beating it at a later rung.

    Returns:
        dict: ``order`` (by the metric), ``width``, ``score``, ``scaled``
        (the full budget the rungs were scaled to, or None),
        ``keep_first``, ``rungs`` (budget and each source's score there),
        ``pick``, ``iterations`` spent and ``cost`` (as a fraction of
        finetuning every source ``max_iters``), ``seconds`` of finetuning.
    """
    check_rung_score(score)
    _check_search(runner.spec, target, width, gains, full_iters, max_iters)
    budgets = rung_budgets(min_iters, max_iters, eta)
    sources = {s.name: s for s in runner.spec.sources}
    target_spec = next(t for t in runner.spec.targets if t.name == target)
    checkpoints = {
        s.name: runner.source_checkpoint(s)
        for s in sources.values()
    }
    checkpoints = {k: v for k, v in checkpoints.items() if v}
    scored = runner.score(target_spec, {}, checkpoints)
    if scored is None:
        raise RuntimeError(f'scoring failed: {runner.failures}')
    order, repetitions = _metric_order(scored['ranking'], metric, checkpoints)
    if width == 'auto':
        width = search_width(probability_best(repetitions), order)
    elif isinstance(width, Fraction):
        width = share_count(width, len(order))
    seconds = []

    def finetune(name: str, iters: int) -> float:
        result = runner.finetune(
            sources[name], target_spec, checkpoints[name], seed, iters=iters)
        if result is None:
            raise RuntimeError(f'finetuning {name} to {iters} iterations '
                               f'failed: {runner.failures}')
        seconds.append(result['seconds'])
        return rung_value(result['curve'], iters, score, gains,
                          sources[name].architecture, full_iters)

    found = successive_halving(order[:int(width)], finetune, budgets, eta,
                               keep_first)
    return dict(
        metric=metric,
        score=score,
        scaled=full_iters if gains is not None else None,
        keep_first=keep_first,
        order=order,
        width=int(width),
        rungs=[dict(iters=b, score=r) for b, r in found.rungs],
        pick=found.pick,
        iterations=found.iterations,
        cost=found.cost(len(order), max_iters),
        seconds=sum(seconds))


def _check_search(spec, target: str, width: Union[int, str, Fraction],
                  gains: Optional[ArchitectureGains],
                  full_iters: Optional[int], max_iters: int) -> None:
    """Refuse a search that cannot run, before any training or scoring."""
    targets = sorted(t.name for t in spec.targets)
    if target not in targets:
        raise ValueError(f'target {target!r} is not in the spec; targets: '
                         f'{targets}')
    if not (width == 'auto' or
            (isinstance(width, Fraction) and 0 < width <= 1) or
            (isinstance(width, int) and width >= 1)):
        raise ValueError('width is auto, a number of sources (at least 1) or '
                         f'a share of them in (0, 1]; got {width!r}')
    if gains is None:
        return
    if not (full_iters and full_iters >= max_iters):
        raise ValueError('scaling by past gains needs the full budget they '
                         'extrapolate to, at least max_iters; got '
                         f'{full_iters}')
    unnamed = [s.name for s in spec.sources if not s.architecture]
    if unnamed:
        raise ValueError('scaling by past gains needs each source\'s '
                         f'architecture in the spec; none for {unnamed}')


def _metric_order(ranking: dict, metric: str, checkpoints: dict) -> tuple:
    """The sources with a checkpoint, best first by ``metric``, and each
    one's values over the K repetitions (where the metric has them)."""
    order = [
        r.name for r in ranking_order(results_from_ranking(ranking), metric)
        if r.name in checkpoints
    ]
    repetitions = {
        s['name']: s['metrics'][metric]['values']
        for s in ranking['sources'] if s['name'] in checkpoints
        and s['metrics'].get(metric, {}).get('values')
    }
    return order, repetitions


__all__ = ['budgeted_search', 'DEFAULT_WIDTH', 'DEFAULT_ETA', 'DEFAULT_RUNGS']
