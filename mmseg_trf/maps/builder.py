"""Transferability maps of a live segmentor: the MMSeg side of
:mod:`mmseg_trf.maps`.

Each image's label map is resampled onto the common map grid (the label
pixel nearest each cell's centre, :func:`~mmseg_trf.maps.grid_positions`)
with the feature there (paired as in :mod:`mmseg_trf.pixels.features`).
:class:`MapBuilder` takes a model and the built datasets once per refresh,
decides whether a saved map may be reused, and runs **one forward pass per
image** that feeds both the scoring pool and the map grid; only the layer
the map reads is written, one image at a time, into scratch files
(:class:`~mmseg_trf.maps.GridStore`, ``images x cells x channels x 4``
bytes, removed afterwards) and the map is scored a band at a time.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import (all_gather_object, barrier, broadcast_object_list,
                           get_dist_info, is_main_process)
from mmengine.utils import ProgressBar

from ..fileio import atomic_write_text
from ..pixels.cache import ArrayCache, dataset_fingerprint
from ..pixels.features import rank_share, read_label_maps
from ..pixels.pools import SampledSide, run_pass, seeded_subset
from ..pixels.scores import (MetricResult, ScoringSettings, full_pixel_results,
                             needs_source, score_pixels, source_failure)
from ..pixels.taps import check_source_classes, layer_channels
from ..sampling import SamplingSettings
from ..version import __version__
from ._bands import (GridSide, GridStore, assemble_map, banded_patch_scores,
                     map_bands, store_bands)
from ._grid import check_scratch_space, default_map_shape
from ._image_maps import image_leep_maps
from ._map import MapSettings, TransferabilityMap


def _shared_scratch(scratch_dir: Optional[str]) -> Tuple[str, bool]:
    """A scratch folder every process sees, and whether it is temporary."""
    if scratch_dir is not None:
        os.makedirs(scratch_dir, exist_ok=True)
        return scratch_dir, False
    folder = [
        tempfile.mkdtemp(prefix='trf-map-') if is_main_process() else None
    ]
    broadcast_object_list(folder)
    return folder[0], True


@dataclass
class Refresh:
    """What one :meth:`MapBuilder.build` produced.

    Args:
        scores (dict): Per-metric results (main process; empty elsewhere).
        transfer_map (TransferabilityMap, optional): The map (``None``
            without map settings).
        reused (bool): The map was a saved one.
        extract_seconds (float): Forward passes and feature sampling.
        figure (ndarray, optional): The computed map's figure (RGB, main
            process), for visualizers.
    """

    scores: Dict[str, MetricResult]
    transfer_map: Optional[TransferabilityMap]
    reused: bool
    extract_seconds: float
    figure: Optional[np.ndarray] = None


class MapBuilder:
    """Model-level scores and the patch transferability map (eq. 3) with
    its weights (eq. 4) of one model, in one forward pass per image.

    Args:
        scoring (ScoringSettings): Model-level metrics (may be none),
            sampling (its seed also draws the OTCE map's source images),
            ``source_images`` and ``batch_size``.
        map_settings (MapSettings, optional): The map; ``None``: scores only.
    """

    def __init__(self,
                 scoring: ScoringSettings,
                 map_settings: Optional[MapSettings] = None) -> None:
        self.scoring, self.map_settings = scoring, map_settings

    @classmethod
    def from_options(cls,
                     metrics: Sequence[str] = ('otce', 'leep', 'logme'),
                     map_metric: Optional[str] = 'otce',
                     num_pixels: int = 10000,
                     repetitions: int = 10,
                     sampler: str = 'uniform',
                     patch_size: int = 4,
                     map_shape: Optional[Tuple[int, int]] = None,
                     min_pixels: int = 5,
                     source_images: int = 20,
                     layer: str = 'logits',
                     otce_solver: str = 'sparse_emd',
                     batch_size: int = 1,
                     workers: Optional[int] = None,
                     map_per_image: bool = False,
                     seed: int = 0) -> 'MapBuilder':
        """A builder from flat options (those of the hook's config).

        Args:
            metrics (Sequence[str]): Model-level scores.
            map_metric (str, optional): ``'otce'``, ``'leep'`` or
                ``'logme'``; ``None``: scores only.
            num_pixels (int): N pixels per repetition of the scores.
            repetitions (int): K repetitions.
            sampler (str): ``'uniform'``, ``'balanced'`` or ``'full'``.
            patch_size (int): Patch side on the map grid (the paper: 4).
            map_shape (tuple, optional): Map grid ``(H, W)``.
            min_pixels (int): Fewest labelled pixels a patch needs.
            source_images (int): Source images used (scores, OTCE map).
            layer (str): ``'logits'`` or ``'pre_logits'`` pixel features.
            otce_solver (str): OT solver of the model-level OTCE.
            batch_size (int): Images per forward pass.
            workers (int, optional): Processes scoring map patches per rank.
            map_per_image (bool): A per-pixel LEEP map per target image
                instead of patches pooled over the images.
            seed (int): Sampling seed (and the source images' subset).

        Returns:
            MapBuilder: The builder.
        """
        scoring = ScoringSettings(
            tuple(metrics),
            SamplingSettings(sampler, num_pixels, repetitions, seed=seed),
            layer, source_images, otce_solver, batch_size)
        settings = MapSettings(map_metric, patch_size, map_shape, min_pixels,
                               layer, workers,
                               map_per_image) if map_metric else None
        return cls(scoring, settings)

    def check_source_given(self, given: bool) -> None:
        """Refuse, before any work, an OTCE map without source data."""
        if self.map_settings and self.map_settings.metric == 'otce' and (
                not given):
            raise ValueError(
                "map_metric='otce' needs source_dataset (the source model's "
                'training data as a dataset config dict or file; '
                '--trf-source-dataset with tools/train.py), or choose '
                "map_metric='leep' or 'logme'")

    def build(self,
              model,
              digest: str,
              target,
              source=None,
              folder: Optional[str] = None,
              resumed: bool = False,
              reuse: bool = True,
              meta: Optional[dict] = None) -> Refresh:
        """Score ``model`` on ``target`` and make (or reuse) its map.

        Args:
            model: Segmentor in eval mode.
            digest (str): Digest of its weights (cache and reuse key).
            target: The built target dataset (all its images are pooled).
            source: The built source dataset (OTCE).
            folder (str, optional): Where the map is reused from and saved,
                ``scores.json``, the feature cache (``cache/``) and the
                scratch grids (``scratch/``) go; by default a temporary
                folder (nothing reused or kept).
            resumed (bool): A resumed run must reuse its saved map.
            reuse (bool): Whether a saved map of this model may be reused.
            meta (dict, optional): Provenance kept with a computed map.

        Returns:
            Refresh: Scores, map and timings.
        """
        settings, scoring = self.map_settings, self.scoring
        if settings and settings.metric == 'otce' and source is None:
            raise ValueError('an OTCE map needs the source dataset')
        start = time.perf_counter()
        scores = {}
        if scoring.metrics and scoring.sampling.sampler == 'full':
            scores = full_pixel_results(model, target, scoring)
            scoring = replace(scoring, metrics=())
        sides = self._sides(target, source, scoring)
        key = self.settings_key(sides) if settings else None
        stored = None
        if key and folder and (reuse or resumed):
            stored = TransferabilityMap.reusable(folder, key, digest, resumed)
        work, temporary = _shared_scratch(folder)
        grids = {}
        try:
            if settings and not stored:
                grids = self._grids(model, sides, key['map_shape'],
                                    osp.join(work, 'scratch'))
            pools, source_error = self._pools(
                model, digest, sides, scoring,
                ArrayCache(osp.join(work, 'cache')))
            for role, (dataset, images, _, _) in sides.items():
                pool = pools.get(role)
                if pool is not None and not pool.needs_pass:
                    pool = None  # cached
                wanted = images if role in grids else (
                    [] if pool is None else pool.images)
                run_pass(model, dataset, wanted,
                         [c for c in (pool, grids.get(role)) if c],
                         scoring.batch_size, f'{role} features')
            barrier()
            extracted = time.perf_counter() - start
            pixels = {role: side.finish() for role, side in pools.items()}
            if scoring.metrics:
                scores = score_pixels(pixels['target'], pixels.get('source'),
                                      source_error, scoring)
            computed = self._score_map(grids, sides, key, extracted,
                                       dict(meta or {},
                                            weights=digest)) if grids else None
        finally:
            barrier()
            if is_main_process():
                for side in grids.values():
                    for store in side.stores:
                        store.remove()
                if temporary:
                    shutil.rmtree(work, ignore_errors=True)
        done = Refresh(scores, stored or computed, stored is not None,
                       extracted)
        if folder:
            self._save(done, folder, meta)
        return done

    @staticmethod
    def _save(done: Refresh, folder: str, meta: Optional[dict]) -> None:
        """Every process gets the scores; the main one writes them and a
        computed map (with its figure) into ``folder``."""
        shared = [done.scores]
        broadcast_object_list(shared)
        done.scores = shared[0]
        if is_main_process() and done.scores:
            atomic_write_text(
                osp.join(folder, 'scores.json'),
                json.dumps(
                    dict(
                        iter=(meta or {}).get('iter'),
                        extract_seconds=done.extract_seconds,
                        scores={
                            k: vars(v)
                            for k, v in done.scores.items()
                        }),
                    indent=2))
        if is_main_process() and done.transfer_map and not done.reused:
            done.figure = done.transfer_map.save(folder)
        barrier()

    def settings_key(self, sides: dict) -> dict:
        """What a saved map must have been made with to be reused: the map
        settings (the grid resolved), the source subset and the
        fingerprints of the images the map reads."""
        settings = self.map_settings
        roles = ('target',
                 'source') if settings.metric == 'otce' else ('target', )
        key = asdict(settings)
        del key['workers']  # how, not what
        key['map_shape'] = list(
            settings.map_shape
            or default_map_shape(sides['target'][2][0].shape))
        key.update({role: sides[role][3] for role in roles})
        return dict(
            key,
            source_images=self.scoring.source_images,
            seed=self.scoring.sampling.seed,
            version=__version__)

    def _sides(self, target, source, scoring: ScoringSettings) -> dict:
        """Per role: dataset, images, label maps (read once, in 8 bits as
        MMSeg loads them) and fingerprint (computed once)."""
        wanted = {'target': (target, list(range(len(target))))}
        map_source = self.map_settings and self.map_settings.metric == 'otce'
        if source is not None and (map_source or needs_source(scoring)):
            wanted['source'] = (source,
                                seeded_subset(
                                    len(source), scoring.source_images,
                                    scoring.sampling.seed))
        return {
            role: (dataset, images, [
                read_label_maps(dataset, [i])[0].astype(np.uint8)
                for i in images
            ], dataset_fingerprint(dataset, images))
            for role, (dataset, images) in wanted.items()
        }

    @staticmethod
    def _pools(model, digest: str, sides: dict, scoring: ScoringSettings,
               cache: ArrayCache):
        """The scoring pools per role, and why OTCE has no source pool."""
        pools, source_error = {}, None
        if not scoring.metrics:
            return pools, source_error
        if needs_source(scoring) and 'source' not in sides:
            source_error = ('no source dataset given (source_dataset of '
                            'the hook), which OTCE needs')
        for role, (dataset, images, label_maps, fingerprint) in sides.items():
            if role == 'source':
                if not needs_source(scoring):
                    continue
                try:
                    check_source_classes(model, dataset, 'source_dataset')
                except ValueError as err:
                    source_error = source_failure('source_dataset', err)
                    continue
            pools[role] = SampledSide(digest, dataset, images, label_maps,
                                      fingerprint, scoring.sampling, cache,
                                      role)
        return pools, source_error

    def _grids(self, model, sides: dict, map_shape: List[int],
               scratch: str) -> dict:
        """Scratch grids of every side the map reads."""
        settings = self.map_settings
        map_bands(map_shape, settings.patch_size, 1, 1)  # rejects bad patches
        roles = ['target', 'source'
                 ] if settings.metric == 'otce' else ['target']
        os.makedirs(scratch, exist_ok=True)
        channels = layer_channels(model, settings.layer)
        check_scratch_space(
            scratch,
            sum(len(sides[r][1]) for r in roles) * map_shape[0] *
            map_shape[1] * (channels + 1) * 4)
        grids = {}
        for role in roles:
            _, images, label_maps, _ = sides[role]
            stores = tuple(
                GridStore(
                    osp.join(scratch, f'{role}-{name}.bin'),
                    len(images),
                    map_shape,
                    item,
                    dtype,
                    create=is_main_process())
                for name, item, dtype in ((settings.layer, (channels, ),
                                           np.float32), ('labels', (),
                                                         np.int32)))
            grids[role] = GridSide(images, label_maps, stores, settings.layer)
        barrier()
        return grids

    def _score_map(self, grids: dict, sides: dict, key: dict,
                   extract_seconds: float,
                   meta: Optional[dict]) -> TransferabilityMap:
        settings = self.map_settings
        start = time.perf_counter()
        dataset, images = sides['target'][:2]
        if settings.per_image:
            transferability = image_leep_maps(*grids['target'].stores,
                                              dataset.ignore_index)
            meta = dict(
                meta or {},
                images=[dataset.get_data_info(i)['img_path'] for i in images])
        else:
            source = grids['source'].stores if 'source' in grids else (None,
                                                                       None)
            transferability = score_bands(settings, key['map_shape'],
                                          *grids['target'].stores, *source,
                                          dataset.ignore_index)
        return TransferabilityMap(
            transferability, key['map_shape'],
            1 if settings.per_image else settings.patch_size,
            dict(
                meta or {},
                target=dataset.data_root,
                mmseg_trf=__version__,
                settings=key,
                metric=settings.metric,
                layer=settings.layer,
                min_pixels=settings.min_pixels,
                label_shape=list(sides['target'][2][0].shape),
                extract_seconds=round(extract_seconds, 3),
                score_seconds=round(time.perf_counter() - start, 3)))


def score_bands(settings: MapSettings, map_shape: List[int], target: GridStore,
                target_labels: GridStore, source: Optional[GridStore],
                source_labels: Optional[GridStore],
                ignore_index: int) -> np.ndarray:
    """Score this process's bands of the grids and assemble everyone's."""
    world = get_dist_info()[1]
    patch = settings.patch_size
    patches = (map_shape[0] // patch) * (map_shape[1] // patch)
    workers = settings.workers
    if workers is None:
        cores = len(os.sched_getaffinity(0))
        workers = max(1, cores // world) if patches >= 4096 else 1
    # a few bands per worker of every process, so all share the work
    bands = store_bands(target, source, patch, min_bands=4 * world * workers)
    mine = rank_share(range(len(bands)))
    bar = ProgressBar(
        sum((bands[i][1] - bands[i][0]) // patch
            for i in mine) * (map_shape[1] // patch)) if mine else None
    results = banded_patch_scores(settings.metric, target, target_labels,
                                  [bands[i]
                                   for i in mine], patch, ignore_index,
                                  settings.min_pixels, source, source_labels,
                                  workers, lambda n: bar.update(n))
    if bar is not None:
        print(f' {settings.metric} map done', flush=True)
    gathered: List = [None] * len(bands)
    for indices, parts in all_gather_object((mine, results)):
        for index, part in zip(indices, parts):
            gathered[index] = part
    return assemble_map(gathered, map_shape, patch, settings.min_pixels)


__all__ = ['Refresh', 'MapBuilder', 'score_bands']
