"""Score source segmentors for a target dataset with the metric core.

For each source: build the model, extract pixel features on the target
(and, for OTCE, on ``source_images`` images of the source's own dataset) at
a cached pool of sampled pixels, then compute every metric on K
repetitions of N pixels. A failing source or metric is recorded with its
error and the others go on.
"""
import time
import traceback
import warnings
from dataclasses import dataclass, field, fields
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import yaml
from mmengine.config import Config
from mmengine.dist import barrier, broadcast_object_list
from mmengine.logging import print_log

from ..evaluation import (ArchitectureGains, architecture_prior, best_by,
                          curve_budget)
from ..evaluation.budget import Curve
from ..fileio import atomic_write_text
from ..pixels.cache import ArrayCache, cache_key, checkpoint_identity
from ..pixels.features import build_dataset
from ..pixels.pools import sampled_pixels
from ..pixels.scores import (LAYERS, MetricResult, ScoringSettings, failure,
                             full_pixel_results, needs_source, score_pixels,
                             source_failure)
from ..pixels.taps import check_source_classes
from ..utils import read_yaml
from .model import load_config, load_segmentor


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
        architecture (str, optional): Its architecture family, as named in
            an architecture history (:func:`read_architecture_history`):
            the key of the fusion member ``architecture``.
    """

    name: str
    config: str
    checkpoint: Optional[str] = None
    dataset: Optional[str] = None
    miou: Optional[float] = None
    source_miou: Optional[float] = None
    architecture: Optional[str] = None

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


def read_history(path: str) -> List[List[dict]]:
    """A history file of past targets, checked before any scoring: a
    YAML/JSON mapping of past targets to their finetuned sources, ``{target:
    [{architecture: name, miou: fraction, curve: [[iters, miou], ...]},
    ...]}``, two or more per target; ``curve`` (the finetuning run's
    validation mIoU up to its full budget) or ``curves`` (one per
    finetuning seed) is optional.

    Args:
        path (str): The history file.

    Returns:
        list: Per past target, its entries (``curves``, each a list of
        ``(iters, miou)``, where given).
    """
    history = read_yaml(path)
    if not isinstance(history, dict) or not history:
        raise ValueError(f'{path} must map past targets to lists of '
                         '{architecture, miou}')
    targets = []
    keys = {'architecture', 'miou'}
    for target, entries in history.items():
        where = f'{path}, {target}'
        if not isinstance(entries, list) or len(entries) < 2 or not all(
                isinstance(e, dict) and keys <= set(e) <= keys
                | {'curve', 'curves'} and not {'curve', 'curves'} <= set(e)
                for e in entries):
            raise ValueError(f'{where}: a past target lists two or more '
                             f'{{architecture, miou}} (and optionally a '
                             f'curve or curves); got {entries!r}')
        targets.append([checked_entry(e, where) for e in entries])
    return targets


def checked_entry(entry: dict, where: str) -> dict:
    """A history entry with its mIoU and, where given, its curves checked
    (a single ``curve`` as a list of one)."""
    checked = dict(
        architecture=str(entry['architecture']),
        miou=checked_miou(entry['miou'], where))
    curves = [entry['curve']] if 'curve' in entry else entry.get('curves')
    if curves is not None:
        if not isinstance(curves, list) or not curves:
            raise ValueError(f'{where}: curves is a list of one or more '
                             f'curves; got {curves!r}')
        checked['curves'] = [checked_curve(c, where) for c in curves]
    return checked


def checked_curve(value, where: str) -> list:
    """A learning curve ``[[iters, miou], ...]`` with increasing positive
    iterations, or a ``ValueError``."""
    try:
        curve = [(int(it), checked_miou(miou, where)) for it, miou in value]
    except (TypeError, ValueError) as error:
        raise ValueError(f'{where}: a curve is a list of [iters, miou] '
                         f'pairs; got {value!r} ({error})') from None
    iters = [it for it, _ in curve]
    if not curve or iters[0] <= 0 or any(a >= b
                                         for a, b in zip(iters, iters[1:])):
        raise ValueError(f'{where}: a curve\'s iterations are positive and '
                         f'increasing; got {iters}')
    return curve


def read_architecture_history(path: str) -> Dict[str, float]:
    """The architecture prior of a history file (:func:`read_history`;
    :func:`~mmseg_trf.evaluation.architecture_prior`).

    Args:
        path (str): The history file.

    Returns:
        dict: Architecture -> prior.
    """
    return architecture_prior([[(e['architecture'], e['miou'])
                                for e in entries]
                               for entries in read_history(path)])


def read_gain_history(path: str) -> ArchitectureGains:
    """The architecture gains of a history file's curves
    (:func:`read_history`; :class:`~mmseg_trf.evaluation.ArchitectureGains`).

    Args:
        path (str): The history file; at least one entry has a curve.

    Returns:
        ArchitectureGains: Each family's expected gain to a full budget.
    """
    runs = [(e['architecture'], curve) for entries in read_history(path)
            for e in entries for curve in e.get('curves', ())]
    if not runs:
        raise ValueError(f'{path}: no entry has a curve ([[iters, miou], '
                         '...]), so it tells no gain to a full budget')
    return ArchitectureGains(runs)


#: A past target's finetuned sources: each one's architecture family and
#: the learning curve of each finetuning seed.
PastTarget = Sequence[Tuple[str, Sequence[Curve]]]


def history_entries(sources: PastTarget) -> List[dict]:
    """One past target's entries of a history file (:func:`read_history`).

    Args:
        sources (Sequence): Per finetuned source, its architecture family
            and the learning curve of each finetuning seed (``[(iters,
            miou), ...]``, each to the full budget).

    Returns:
        list: Per source, ``{architecture, miou, curves}``: its ground
        truth (the mean over its seeds of each run's best validation
        mIoU) and every seed's curve, rounded to four digits.
    """
    entries = []
    for family, curves in sources:
        truth = np.mean(
            [best_by(curve, curve_budget(curve)) for curve in curves])
        entries.append(
            dict(
                architecture=family,
                miou=round(float(truth), 4),
                curves=[[[int(it), round(float(miou), 4)]
                         for it, miou in curve] for curve in curves]))
    return entries


def write_history(path: str, past_targets: Mapping[str,
                                                   PastTarget]) -> List[str]:
    """Write finetuning results of past targets as a history file, the
    ``--architecture-history`` of ``score_sources.py`` and the
    ``--gain-history`` of ``select_source.py`` (:func:`history_entries`
    per target). A target with fewer than two finetuned sources is left
    out: a history ranks a target's sources against each other. Nothing is
    written where no target is left.

    Args:
        path (str): The YAML file to write.
        past_targets (Mapping): Target -> its sources as
            :data:`PastTarget`.

    Returns:
        list[str]: The targets written.
    """
    history = {
        target: history_entries(sources)
        for target, sources in past_targets.items() if len(sources) >= 2
    }
    if history:
        atomic_write_text(path, yaml.safe_dump(history, sort_keys=False))
    return list(history)


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
class SourceResult:
    """Scores of one source, or why it failed."""

    name: str
    miou: Optional[float] = None
    metrics: Dict[str, MetricResult] = field(default_factory=dict)
    extract_seconds: float = 0.0
    error: Optional[str] = None
    parameters: Optional[int] = None
    source_miou: Optional[float] = None
    architecture_prior: Optional[float] = None


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
    pixels = sampled_pixels(model, model_key, target, settings.sampling, cache,
                            'target', None, settings.batch_size)
    source, source_error = None, None
    if needs_source(settings):
        try:
            dataset = source_data(model, source_dataset)
            source = sampled_pixels(model, model_key, dataset,
                                    settings.sampling, cache, 'source',
                                    settings.source_images,
                                    settings.batch_size)
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
        result.error = (f'{failure(err)} (config {spec.config}, checkpoint '
                        f'{spec.checkpoint})')
        print_log(
            f'source {spec.name} failed: {result.error}\n'
            f'{traceback.format_exc()}',
            logger='current')
    return result


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
    'SourceSpec', 'checked_miou', 'read_history', 'read_architecture_history',
    'read_gain_history', 'PastTarget', 'history_entries', 'write_history',
    'ScoringSettings', 'MetricResult', 'SourceResult', 'dataset_config',
    'score_model', 'score_source', 'score_sources', 'source_data', 'LAYERS'
]
