"""Score source segmentors for a target dataset with the metric core.

For each source: build the model, extract pixel features on the target
(and, for OTCE, on ``source_images`` images of the source's own dataset) at
a cached pool of sampled pixels, then compute every metric on K
repetitions of N pixels. A failing source or metric is recorded with its
error and the others go on.
"""
import math
import time
import traceback
import warnings
from dataclasses import dataclass, field, fields
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.config import Config
from mmengine.dist import (all_gather_object, barrier, broadcast_object_list,
                           is_main_process)
from mmengine.logging import print_log

from ..checks import check_number
from ..metrics import (METRICS, SOURCE_AND_TARGET, SOURCE_PROBS,
                       TARGET_FEATURES, TARGET_FEATURES_BY_IMAGE, get_metric)
from ..metrics._inputs import softmax
from ..metrics.otce import otce
from ..metrics.stats import FeatureStats
from ..sampling import (SamplingSettings, check_label_ids, draw_pool,
                        repetitions)
from .cache import (ArrayCache, cache_key, checkpoint_identity,
                    dataset_fingerprint)
from .features import (build_dataset, forward_images, iterate_pixel_features,
                       pool_arrays, pool_samples, read_label_maps)
from .model import classifier_head, load_config, load_segmentor

LAYERS = ('logits', 'pre_logits')


@dataclass
class SourceSpec:
    """A candidate source model.

    Args:
        name (str): Display name.
        config (str): Model config path or ``mmseg::`` name.
        checkpoint (str, optional): Local path or URL.
        dataset (str, optional): Config of the dataset it was trained on
            (needed by OTCE).
        miou (float, optional): Ground-truth transfer mIoU, if known.
        source_miou (float, optional): Its own validation mIoU on its
            source data (a prior known before any target image is seen;
            for MMSeg's zoo, the metafile's): reported as a baseline and
            usable as the fusion member ``source-miou``.
    """

    name: str
    config: str
    checkpoint: Optional[str] = None
    dataset: Optional[str] = None
    miou: Optional[float] = None
    source_miou: Optional[float] = None

    @classmethod
    def from_entry(cls, entry, where: str) -> 'SourceSpec':
        """A source from one entry of a sources file, or a ``ValueError``
        that names the entry, the field and what is allowed.

        Args:
            entry: The parsed entry.
            where (str): The entry's place, for messages.

        Returns:
            SourceSpec: The source.
        """
        allowed = [f.name for f in fields(cls)]
        if not isinstance(entry, dict):
            raise ValueError(f'{where}: a source is a mapping with keys '
                             f'{allowed}, got {entry!r}')
        unknown = sorted(set(entry) - set(allowed))
        missing = [k for k in ('name', 'config') if not entry.get(k)]
        if unknown or missing:
            raise ValueError(f'{where}: unknown keys {unknown}, missing '
                             f'{missing}; allowed keys: {allowed} (name and '
                             'config required)')
        spec = cls(**entry)
        for key in ('miou', 'source_miou'):
            if getattr(spec, key) is not None:
                setattr(
                    spec, key,
                    checked_miou(
                        getattr(spec, key), f'{where} ({spec.name}, {key})'))
        return spec


def checked_miou(value, where: str) -> float:
    """A ground-truth mIoU as a fraction in [0, 1], or a ``ValueError``."""
    try:
        miou = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: mIoU {value!r} is not a number') from None
    if not 0 <= miou <= 1:
        raise ValueError(f'{where}: mIoU {value!r} is outside [0, 1] (give '
                         'it as a fraction, e.g. 0.42 for 42%)')
    return miou


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

    metrics: Sequence[str] = ('nce', 'otce', 'leep', 'logme', 'hscore')
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


@dataclass
class SourceResult:
    """Scores of one source, or why it failed."""

    name: str
    miou: Optional[float] = None
    metrics: Dict[str, MetricResult] = field(default_factory=dict)
    extract_seconds: float = 0.0
    error: Optional[str] = None
    parameters: Optional[int] = None
    source_miou: Optional[float] = None


def dataset_config(path: Union[str, dict, Config]) -> dict:
    """The labelled dataset a dataset config describes (the one rule for
    targets and sources, in tools and in the hook).

    ``trf_dataset`` when the config defines it; otherwise its
    ``train_dataloader.dataset`` with the config's ``test_pipeline`` (so
    features come from whole, unaugmented images). A dict is taken as the
    dataset config itself.

    Args:
        path (str | dict | Config): A dataset config file (or ``mmseg::``
            name), a loaded config (e.g. a runner's), or a dataset config.

    Returns:
        dict: A dataset config.
    """
    if isinstance(path, dict):
        return dict(path)
    cfg = path if isinstance(path, Config) else load_config(path)
    if 'trf_dataset' in cfg:
        return cfg.trf_dataset.to_dict()
    dataset = cfg.train_dataloader.dataset.to_dict()
    if 'test_pipeline' in cfg:
        dataset['pipeline'] = cfg.test_pipeline
    return dataset


def seeded_subset(count: int, limit: Optional[int], seed: int) -> List[int]:
    """``limit`` of ``count`` indices drawn with ``seed``, sorted (all of
    them when ``limit`` is ``None`` or not smaller)."""
    if limit is None or limit >= count:
        return list(range(count))
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(count, limit, replace=False).tolist())


class PixelData:
    """Features, logits and labels of one dataset's sampled pixels.

    Args:
        arrays (dict): ``labels``, ``pre_logits``, ``logits`` and
            ``images`` (the image index) per pool entry.
        reps (list[ndarray]): Pool indices of each repetition.
    """

    def __init__(self, arrays: Dict[str, np.ndarray],
                 reps: List[np.ndarray]) -> None:
        self.arrays, self.reps = arrays, reps

    def features(self, layer: str, rep: int) -> np.ndarray:
        return self.arrays[layer][self.reps[rep]]

    def probs(self, rep: int) -> np.ndarray:
        return softmax(self.arrays['logits'][self.reps[rep]])

    def labels(self, rep: int) -> np.ndarray:
        return self.arrays['labels'][self.reps[rep]]

    def images(self, rep: int) -> np.ndarray:
        return self.arrays['images'][self.reps[rep]]


class SampledSide:
    """One dataset's pool of sampled pixels: drawn from its labels, filled
    from the cache or from forward passes the caller runs (:meth:`take`),
    so that another consumer (a map grid) can share those passes.

    Args:
        model_key (str): Identity of config and weights.
        dataset: The built dataset.
        images (Sequence[int]): Its images the pool is drawn from.
        label_maps (list[ndarray]): Their label maps (read once by the
            caller).
        fingerprint (str): ``dataset_fingerprint(dataset, images)``.
        settings (ScoringSettings): Sampling.
        cache (ArrayCache): Feature cache.
        role (str): ``'target'`` or ``'source'`` (cache file name).
    """

    def __init__(self, model_key: str, dataset, images: Sequence[int],
                 label_maps: List[np.ndarray], fingerprint: str,
                 settings: ScoringSettings, cache: ArrayCache,
                 role: str) -> None:
        check_label_ids(label_maps, len(dataset.metainfo['classes']),
                        dataset.ignore_index, f'{role} dataset')
        self.pool = draw_pool(label_maps, dataset.ignore_index,
                              settings.sampling)
        # pool indices are per position in ``images``
        self.images = np.asarray(images)[np.unique(self.pool.image)]
        self.settings, self.cache, self.role = settings, cache, role
        self.key = cache_key(
            model=model_key,
            data=fingerprint,
            ignore=dataset.ignore_index,
            pool=settings.sampling.pool_key())
        self.arrays = cache.load(role, self.key)
        self.parts: list = []
        self.slot = {image: k for k, image in enumerate(images)}
        if self.arrays is None:
            print_log(
                f'extracting {role} features at {len(self.pool)} pixels of '
                f'{len(images)} images',
                logger='current')

    @property
    def needs_pass(self) -> bool:
        """Whether the pool's images still need a forward pass."""
        return self.arrays is None

    def take(self, image: int, taps) -> None:
        """Sample this image's pool positions from its forward pass."""
        if self.arrays is None and image in self.images:
            self.parts.append(pool_samples(taps, self.slot[image], self.pool))

    def finish(self) -> PixelData:
        """The pool's arrays (gathered over processes and cached)."""
        if self.arrays is None:
            self.arrays = dict(
                pool_arrays(self.parts, self.pool), labels=self.pool.labels)
            if is_main_process():
                self.cache.save(
                    self.role, self.key, self.arrays,
                    dict(
                        role=self.role,
                        images=len(self.slot),
                        pool=len(self.pool),
                        sampling=self.settings.sampling.pool_key()))
        # the pool is drawn from the labels alone, so its image indices
        # belong to cached arrays too
        return PixelData(
            dict(self.arrays, images=self.pool.image),
            repetitions(self.pool, self.settings.sampling))


def run_pass(model, dataset, images: Sequence[int], consumers: Sequence,
             batch_size: int, desc: str) -> None:
    """One forward pass per image, handed to every consumer's ``take``."""
    for image, taps in forward_images(model, dataset, images, batch_size,
                                      desc):
        for consumer in consumers:
            consumer.take(image, taps)


def sampled_pixels(model,
                   model_key: str,
                   dataset,
                   settings: ScoringSettings,
                   cache: ArrayCache,
                   role: str,
                   max_images: Optional[int] = None) -> PixelData:
    """Pool features of a dataset, from the cache when possible.

    Args:
        model: Segmentor in eval mode.
        model_key (str): Identity of config and weights.
        dataset: The built dataset.
        settings (ScoringSettings): Sampling and batching.
        cache (ArrayCache): Feature cache.
        role (str): ``'target'`` or ``'source'`` (cache file name).
        max_images (int, optional): Use a seeded subset of this many images.

    Returns:
        PixelData: Arrays and repetitions.
    """
    images = seeded_subset(len(dataset), max_images, settings.sampling.seed)
    side = SampledSide(model_key, dataset, images,
                       read_label_maps(dataset, images),
                       dataset_fingerprint(dataset, images), settings, cache,
                       role)
    if side.needs_pass:
        run_pass(model, dataset, side.images, [side], settings.batch_size,
                 f'{role} features')
    return side.finish()


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


def _failure(err: Exception) -> str:
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
            results[name] = MetricResult(error=_failure(err))
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


def score_model(model, model_key: str, target, source_dataset,
                settings: ScoringSettings,
                cache: ArrayCache) -> Tuple[Dict[str, MetricResult], float]:
    """Every requested metric of one loaded model on the target.

    Args:
        model: Segmentor in eval mode.
        model_key (str): Identity of its config and weights (cache key).
        target: The built target dataset.
        source_dataset (str | dict, optional): Config of its training data
            (OTCE).
        settings (ScoringSettings): What to compute.
        cache (ArrayCache): Feature cache.

    Returns:
        tuple: Per-metric results (failures recorded, not raised; only the
        main process computes them) and the extraction time in seconds.
    """
    start = time.perf_counter()
    if settings.sampling.sampler == 'full':
        return (full_pixel_results(model, target,
                                   settings), time.perf_counter() - start)
    pixels = sampled_pixels(model, model_key, target, settings, cache,
                            'target')
    source, source_error = None, None
    if needs_source(settings):
        try:
            dataset = source_data(model, source_dataset)
            source = sampled_pixels(model, model_key, dataset, settings, cache,
                                    'source', settings.source_images)
        except Exception as err:  # reported for the metrics that need it
            source_error = source_failure(source_dataset, err)
    seconds = time.perf_counter() - start
    return score_pixels(pixels, source, source_error, settings), seconds


def score_source(spec: SourceSpec, target, settings: ScoringSettings,
                 cache: ArrayCache) -> SourceResult:
    """Every requested metric for one source on the target.

    Returns:
        SourceResult: Scores; failures are recorded, not raised.
    """
    result = SourceResult(spec.name, spec.miou, source_miou=spec.source_miou)
    try:
        model = load_segmentor(spec.config, spec.checkpoint, settings.device,
                               settings.cfg_options)
        if (model.cfg.model.get('test_cfg') or {}).get('mode') == 'slide':
            warnings.warn(f'{spec.name}: test_cfg.mode=slide is not used '
                          'for scoring: pixel features come from one '
                          'whole-image forward pass of the decode head')
        # a static prior that needs no target data (report baseline)
        result.parameters = sum(p.numel() for p in model.parameters())
        model_key = cache_key(
            config=model.cfg.model.to_dict(),
            weights=checkpoint_identity(spec.checkpoint))
        result.metrics, result.extract_seconds = score_model(
            model, model_key, target, spec.dataset, settings, cache)
    except Exception as err:
        result.error = (f'{_failure(err)} (config {spec.config}, checkpoint '
                        f'{spec.checkpoint})')
        print_log(
            f'source {spec.name} failed: {result.error}\n'
            f'{traceback.format_exc()}',
            logger='current')
    return result


def source_failure(source_dataset, err: Exception) -> str:
    """Why OTCE has no source pixels, for its result."""
    if not source_dataset:
        return str(err)
    return f'source dataset {source_dataset}: {_failure(err)}'


def source_data(model, source_dataset: Optional[Union[str, dict]]):
    """The built source dataset (:func:`check_source_classes`).

    Args:
        model: The source segmentor.
        source_dataset (str | dict, optional): Its training data's config.

    Returns:
        The built dataset.
    """
    if not source_dataset:
        raise ValueError('no source dataset given (the "dataset" entry of a '
                         'source), which OTCE needs')
    dataset = build_dataset(dataset_config(source_dataset))
    check_source_classes(model, dataset, source_dataset)
    return dataset


def check_source_classes(model, dataset, where) -> None:
    """The source dataset's classes must be the model's output classes."""
    classes = len(dataset.metainfo['classes'])
    outputs = classifier_head(model).num_classes
    if classes != outputs:
        raise ValueError(f'class-count mismatch: the model predicts '
                         f'{outputs} classes, its dataset {where} has '
                         f'{classes}')


def score_sources(sources: Sequence[SourceSpec], target_cfg: dict,
                  settings: ScoringSettings,
                  cache_dir: str) -> List[SourceResult]:
    """Score every source; under torch.distributed all processes call this,
    images are split among them, and every process returns rank 0's
    results.

    Args:
        sources (Sequence[SourceSpec]): Candidates.
        target_cfg (dict): The target dataset config.
        settings (ScoringSettings): What to compute.
        cache_dir (str): Feature cache folder.

    Returns:
        list[SourceResult]: One per source, in order.
    """
    target = build_dataset(target_cfg)  # an empty or missing one fails
    cache = ArrayCache(cache_dir)
    results = []
    for index, spec in enumerate(sources):
        print_log(
            f'[{index + 1}/{len(sources)}] scoring source {spec.name}',
            logger='current')
        results.append(score_source(spec, target, settings, cache))
        barrier()
    shared = [results]
    broadcast_object_list(shared)
    return shared[0]


__all__ = [
    'SourceSpec', 'checked_miou', 'ScoringSettings', 'MetricResult',
    'SourceResult', 'dataset_config', 'score_model', 'score_source',
    'score_sources', 'sampled_pixels', 'full_pixel_scores', 'PixelData',
    'SampledSide', 'run_pass', 'score_pixels', 'needs_source', 'source_data',
    'source_failure', 'check_source_classes', 'seeded_subset', 'LAYERS'
]
