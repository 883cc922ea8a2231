"""The metrics on sampled pixels (K repetitions of a pool) or streamed over
every labelled pixel, with what to compute and the results' shape."""
import math
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import all_gather_object, is_main_process

from ..checks import check_number
from ..metrics import (METRICS, SOURCE_AND_TARGET, SOURCE_PROBS,
                       TARGET_FEATURES, TARGET_FEATURES_BY_IMAGE, get_metric)
from ..metrics._inputs import softmax
from ..metrics.otce import otce
from ..metrics.stats import FeatureStats
from ..sampling import SamplingSettings
from .features import iterate_pixel_features, read_label_maps
from .pools import PixelData

LAYERS = ('logits', 'pre_logits')


@dataclass
class ScoringSettings:
    """What to compute and how.

    Args:
        metrics (Sequence[str]): Metric names (:data:`METRICS`).
        sampling (SamplingSettings): Pixel sampling.
        layer (str): ``'logits'`` (the classifier's output, as the seed code)
            or ``'pre_logits'`` (its input) as the pixel features.
        source_images (int): Source images OTCE takes pixels from.
        otce_solver (str): OT solver of OTCE.
        batch_size (int): Images per forward pass.
        device (str): Device of the models.
        cfg_options (dict, optional): Overrides for every model config.
    """

    metrics: Sequence[str] = ('hscore', 'nce', 'otce', 'leep', 'logme')
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    layer: str = 'logits'
    source_images: int = 20
    otce_solver: str = 'sparse_emd'
    batch_size: int = 1
    device: str = 'cpu'
    cfg_options: Optional[dict] = None

    def __post_init__(self):
        for name in self.metrics:
            get_metric(name)
        if self.layer not in LAYERS:
            raise ValueError(f'layer must be one of {LAYERS}')
        for name in ('source_images', 'batch_size'):
            check_number(name, getattr(self, name), 1, integer=True)


@dataclass
class MetricResult:
    """One metric's score for one source (mean and std over repetitions,
    and the value of each repetition)."""

    mean: float = math.nan
    std: float = math.nan
    seconds: float = 0.0
    error: Optional[str] = None
    values: List[float] = field(default_factory=list)


def full_pixel_scores(model, dataset, names: Sequence[str],
                      settings: ScoringSettings) -> Dict[str, float]:
    """Streaming scores over every labelled pixel (``sampler='full'``) of a
    built dataset.

    Each process runs its share of the images; accumulators are merged
    across processes after every pass.
    """
    label_maps = read_label_maps(dataset)
    accumulators = {name: METRICS[name].accumulator() for name in names}
    passes = max(acc.passes for acc in accumulators.values())

    def positions(index):
        flat = np.flatnonzero(
            label_maps[index].ravel() != dataset.ignore_index)
        width = label_maps[index].shape[1]
        return flat, flat // width, flat % width

    shapes = [m.shape for m in label_maps]
    # Metrics that keep the same feature statistics (F^T F, class sums:
    # H-score, LogME) share one accumulator, so the Gram is formed once.
    sharing = [
        n for n, a in accumulators.items() if isinstance(a, FeatureStats)
    ]
    fed_by = {name: sharing[0] for name in sharing}
    fed = [n for n in accumulators if fed_by.get(n, n) == n]
    for pass_index in range(passes):
        active = [n for n in fed if pass_index < accumulators[n].passes]
        needs_probs = any(METRICS[n].inputs == SOURCE_PROBS for n in active)
        layers = {'logits'} if needs_probs else set()
        if any(METRICS[n].inputs != SOURCE_PROBS for n in active):
            layers.add(settings.layer)
        for image, flat, pre, logits in iterate_pixel_features(
                model,
                dataset,
                range(len(dataset)),
                positions,
                shapes,
                settings.batch_size,
                f'full-pixel pass {pass_index + 1}/{passes}',
                layers=layers):
            labels = label_maps[image].ravel()[flat]
            features = pre if settings.layer == 'pre_logits' else logits
            probs = softmax(logits) if needs_probs else None
            for name in active:
                accumulators[name].update(
                    probs if METRICS[name].inputs == SOURCE_PROBS else
                    features, labels)
        for name in active:
            gathered = all_gather_object(accumulators[name])
            merged = gathered[0]
            for other in gathered[1:]:
                merged.merge(other)
            if pass_index + 1 < merged.passes:
                merged.next_pass()
            accumulators[name] = merged
    # each metric's own compute() on the (possibly shared) statistics
    return {
        name: type(acc).compute(accumulators[fed_by.get(name, name)])
        for name, acc in accumulators.items()
    }


def _metric_on_repetitions(name: str, target: PixelData,
                           source: Optional[PixelData],
                           settings: ScoringSettings) -> MetricResult:
    spec = METRICS[name]
    values, start = [], time.perf_counter()
    for rep in range(len(target.reps)):
        if spec.inputs == TARGET_FEATURES:
            value = spec.fn(
                target.features(settings.layer, rep), target.labels(rep))
        elif spec.inputs == TARGET_FEATURES_BY_IMAGE:
            value = spec.fn(
                target.features(settings.layer, rep), target.labels(rep),
                target.images(rep))
        elif spec.inputs == SOURCE_PROBS:
            value = spec.fn(target.probs(rep), target.labels(rep))
        else:
            src_rep = rep % len(source.reps)
            value = otce(
                source.features(settings.layer, src_rep),
                source.labels(src_rep),
                target.features(settings.layer, rep),
                target.labels(rep),
                solver=settings.otce_solver)
        values.append(value)
    return MetricResult(
        float(np.mean(values)),
        float(np.std(values)),
        time.perf_counter() - start,
        values=[float(v) for v in values])


def failure(err: Exception) -> str:
    return f'{type(err).__name__}: {err}'


def score_pixels(target: PixelData, source: Optional[PixelData],
                 source_error: Optional[str],
                 settings: ScoringSettings) -> Dict[str, MetricResult]:
    """Every requested metric on sampled pixels (main process only; the
    others get an empty dict). Failures are recorded, not raised.

    Args:
        target (PixelData): Target pool.
        source (PixelData, optional): Source pool (OTCE).
        source_error (str, optional): Why there is no source pool.
        settings (ScoringSettings): What to compute.

    Returns:
        dict: Per-metric results.
    """
    results = {}
    if not is_main_process():
        return results
    for name in settings.metrics:
        if METRICS[name].inputs == SOURCE_AND_TARGET and source is None:
            results[name] = MetricResult(error=source_error)
            continue
        try:
            results[name] = _metric_on_repetitions(name, target, source,
                                                   settings)
        except Exception as err:
            results[name] = MetricResult(error=failure(err))
    return results


def needs_source(settings: ScoringSettings) -> bool:
    """Whether a requested metric needs source pixels (OTCE)."""
    return any(METRICS[n].inputs == SOURCE_AND_TARGET
               for n in settings.metrics)


def full_pixel_results(model, target,
                       settings: ScoringSettings) -> Dict[str, MetricResult]:
    """:func:`full_pixel_scores` as results (``sampler='full'``)."""
    streaming = [
        n for n in settings.metrics if METRICS[n].accumulator is not None
    ]
    scores = full_pixel_scores(model, target, streaming, settings)
    return {
        name:
        MetricResult(scores[name], 0.0) if name in scores else MetricResult(
            error=f'{name} has no full-pixel accumulator; use a '
            'sampled mode')
        for name in settings.metrics
    }


def source_failure(source_dataset, err: Exception) -> str:
    """Why OTCE has no source pixels, for its result."""
    if not source_dataset:
        return str(err)
    return f'source dataset {source_dataset}: {failure(err)}'


__all__ = [
    'LAYERS', 'ScoringSettings', 'MetricResult', 'full_pixel_scores',
    'score_pixels', 'needs_source', 'full_pixel_results', 'failure',
    'source_failure'
]
