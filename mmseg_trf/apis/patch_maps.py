"""Transferability maps of a live segmentor (MMSeg glue for
:mod:`mmseg_trf.transfer_map`).

Every target image's label map is resampled onto a common *map grid*: map
pixel ``(r, c)`` takes the label pixel nearest to its centre,
``floor((r + 0.5) * h_label / H)``, and the feature there (paired as in
:mod:`mmseg_trf.apis.features`). Source images are resampled onto the same
grid, so a source patch is the target patch's location scaled to the source
image size. By default the grid is the label resolution halved until it
holds at most 512 x 1024 pixels (the seed's maps).

Memory: only the layer the metric uses is sampled, one image at a time, into
scratch files (:class:`~mmseg_trf.grid_store.GridStore`); the map is then
scored a band of patch rows at a time. Host memory holds one image's grid
chunk and one band per worker, whatever the number of images, cells and
channels; the scratch files take ``images x cells x channels x 4`` bytes of
disk and are removed afterwards.
"""
import os
import os.path as osp
import shutil
import tempfile
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import (all_gather_object, barrier, broadcast_object_list,
                           get_dist_info, is_main_process)
from mmengine.utils import ProgressBar

from ..grid_store import GridStore
from ..transfer_map import (MAP_METRICS, assemble_map, banded_patch_scores,
                            map_bands, store_bands)
from ..weight_maps import TransferabilityMap
from .features import (feature_grid, forward_taps, load_item, rank_share,
                       read_label_maps, sample_map)
from .model import classifier_head

MAX_MAP_PIXELS = 512 * 1024
#: Grid cells sampled from a feature map at once.
CELL_CHUNK = 1 << 16


def default_map_shape(label_shape: Tuple[int, int],
                      max_pixels: int = MAX_MAP_PIXELS) -> Tuple[int, int]:
    """The label shape halved until it holds at most ``max_pixels``."""
    height, width = label_shape
    while height * width > max_pixels:
        height, width = height // 2, width // 2
    return height, width


def grid_positions(label_shape: Tuple[int, int],
                   map_shape: Tuple[int, int]) -> Tuple[np.ndarray, ...]:
    """Label pixels nearest to the centres of the map pixels (row-major)."""
    axes = [
        np.minimum(((np.arange(cells) + 0.5) * size / cells).astype(np.int64),
                   size - 1) for size, cells in zip(label_shape, map_shape)
    ]
    rows, cols = np.meshgrid(*axes, indexing='ij')
    return rows.ravel(), cols.ravel()


def map_layer(metric: str, layer: str) -> str:
    """The layer a map metric reads: LEEP always uses the logits."""
    return 'logits' if metric == 'leep' else layer


def layer_channels(model, layer: str) -> int:
    """Channels of the classifier's input (``pre_logits``) or output."""
    conv = classifier_head(model).conv_seg
    return conv.in_channels if layer == 'pre_logits' else conv.out_channels


def extract_grid(model,
                 dataset,
                 images: Sequence[int],
                 layer: str,
                 features: GridStore,
                 labels: GridStore,
                 batch_size: int = 1,
                 desc: str = 'map features') -> None:
    """Write this process's share of ``images`` onto the map grid.

    Image ``images[k]`` goes to slot ``k`` of both stores; only ``layer``
    is sampled, :data:`CELL_CHUNK` cells at a time.

    Args:
        model: Segmentor in eval mode.
        dataset: An MMSeg dataset.
        images (Sequence[int]): Its image indices (all processes).
        layer (str): ``'logits'`` or ``'pre_logits'``.
        features (GridStore): ``(len(images), H, W, C)`` float32 store.
        labels (GridStore): ``(len(images), H, W)`` int32 store.
        batch_size (int): Images per forward pass.
        desc (str): Progress label.
    """
    mine = rank_share(range(len(images)))
    map_shape = labels.shape[1:3]
    bar = ProgressBar(len(mine)) if mine else None
    for start in range(0, len(mine), batch_size):
        slots = mine[start:start + batch_size]
        pre, logits, input_shape, samples, align = forward_taps(
            model, [load_item(dataset, images[k]) for k in slots])
        values = pre if layer == 'pre_logits' else logits
        for b, slot in enumerate(slots):
            label_map = read_label_maps(dataset, [images[slot]])[0]
            rows, cols = grid_positions(label_map.shape, map_shape)
            labels.write(slot, label_map[rows, cols].astype(np.int32))
            for first in range(0, len(rows), CELL_CHUNK):
                part = slice(first, first + CELL_CHUNK)
                grid = feature_grid(rows[part], cols[part], label_map.shape,
                                    samples[b].metainfo['img_shape'],
                                    input_shape, values.shape[-2:], align)
                features.write(slot, sample_map(values[b], grid), first)
            bar.update()
    if bar is not None:
        print(f' {desc} done', flush=True)


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


def check_scratch_space(folder: str, needed: int) -> None:
    """Refuse, before any work, a map whose grids do not fit on disk."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise MemoryError(
            f'the map grids need {needed / 2**30:.1f} GiB of scratch disk in '
            f'{folder}, {free / 2**30:.1f} GiB are free: use '
            "layer='logits' (19-ish channels instead of hundreds), a smaller "
            'map_shape, fewer source_images, or another scratch_dir')


def compute_map(model,
                metric: str,
                target,
                source=None,
                patch: int = 4,
                min_pixels: int = 5,
                map_shape: Optional[Tuple[int, int]] = None,
                source_images: Optional[int] = 20,
                layer: str = 'logits',
                batch_size: int = 1,
                seed: int = 0,
                workers: Optional[int] = None,
                scratch_dir: Optional[str] = None,
                meta: Optional[dict] = None) -> TransferabilityMap:
    """The patch transferability map (eq. 3) of a model on a target dataset
    and its weights (eq. 4).

    Under torch.distributed every process extracts its share of the images
    into the shared scratch files and scores its share of the bands; only
    per-patch scores are gathered, and every process returns the map.

    Args:
        model: Segmentor in eval mode.
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        target: The built target dataset (all its images are pooled).
        source: The built source dataset (OTCE).
        patch (int): Patch side on the map grid.
        min_pixels (int): Fewest labelled pixels per patch.
        map_shape (tuple, optional): ``(H, W)`` of the map grid.
        source_images (int, optional): Source images used (seeded subset).
        layer (str): ``'logits'`` or ``'pre_logits'`` features.
        batch_size (int): Images per forward pass.
        seed (int): Seed of the source subset.
        workers (int, optional): Processes scoring bands in each rank; by
            default the cores per rank for maps of 4,096 patches or more.
        scratch_dir (str, optional): Where the grids go (shared by all
            processes); by default a temporary folder (one process).
        meta (dict, optional): Provenance kept with the map.

    Returns:
        TransferabilityMap: The map.
    """
    if metric not in MAP_METRICS:
        raise ValueError(f'no transferability map for {metric!r}; choose one '
                         f'of {MAP_METRICS}')
    if metric == 'otce' and source is None:
        raise ValueError('an OTCE map needs the source dataset')
    from .scoring import seeded_subset
    label_shape = read_label_maps(target, [0])[0].shape
    map_shape = map_shape or default_map_shape(label_shape)
    map_bands(map_shape, patch, 1, 1)  # rejects bad patch sizes up front
    layer = map_layer(metric, layer)
    sides = [('target', target, list(range(len(target))))]
    if metric == 'otce':
        sides.append(
            ('source', source, seeded_subset(len(source), source_images,
                                             seed)))
    channels = layer_channels(model, layer)
    folder, temporary = _shared_scratch(scratch_dir)
    cells = map_shape[0] * map_shape[1]
    check_scratch_space(
        folder,
        sum(len(i) for _, _, i in sides) * cells * (channels + 1) * 4)
    stores = {}
    for role, _, images in sides:
        stores[role] = (GridStore(
            osp.join(folder, f'{role}-{layer}.bin'),
            len(images),
            map_shape, (channels, ),
            create=is_main_process()),
                        GridStore(
                            osp.join(folder, f'{role}-labels.bin'),
                            len(images),
                            map_shape,
                            dtype=np.int32,
                            create=is_main_process()))
    barrier()
    try:
        start = time.perf_counter()
        for role, dataset, images in sides:
            extract_grid(model, dataset, images, layer, *stores[role],
                         batch_size, f'{role} map features')
        barrier()
        extracted = time.perf_counter()
        transferability = _score_bands(metric, stores, map_shape, patch,
                                       target.ignore_index, min_pixels,
                                       workers)
        scored = time.perf_counter()
    finally:
        barrier()
        if is_main_process():
            for pair in stores.values():
                for store in pair:
                    store.remove()
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)
    return TransferabilityMap(
        transferability, map_shape, patch,
        dict(
            meta or {},
            metric=metric,
            layer=layer,
            min_pixels=min_pixels,
            label_shape=list(label_shape),
            extract_seconds=round(extracted - start, 3),
            score_seconds=round(scored - extracted, 3)))


def _score_bands(metric: str, stores: dict, map_shape: Tuple[int, int],
                 patch: int, ignore_index: int, min_pixels: int,
                 workers: Optional[int]) -> np.ndarray:
    """Score this process's bands and assemble everyone's."""
    world = get_dist_info()[1]
    target, target_labels = stores['target']
    source, source_labels = stores.get('source', (None, None))
    patches = (map_shape[0] // patch) * (map_shape[1] // patch)
    if workers is None:
        cores = len(os.sched_getaffinity(0))
        workers = max(1, cores // world) if patches >= 4096 else 1
    # a few bands per worker of every process, so all share the work
    bands = store_bands(target, source, patch, min_bands=4 * world * workers)
    mine = rank_share(range(len(bands)))
    bar = ProgressBar(
        sum((bands[i][1] - bands[i][0]) // patch
            for i in mine) * (map_shape[1] // patch)) if mine else None
    results = banded_patch_scores(metric, target, target_labels,
                                  [bands[i]
                                   for i in mine], patch, ignore_index,
                                  min_pixels, source, source_labels, workers,
                                  lambda n: bar.update(n))
    if bar is not None:
        print(f' {metric} map done', flush=True)
    gathered: List = [None] * len(bands)
    for indices, parts in all_gather_object((mine, results)):
        for index, part in zip(indices, parts):
            gathered[index] = part
    return assemble_map(gathered, map_shape, patch, min_pixels)


__all__ = [
    'default_map_shape', 'grid_positions', 'map_layer', 'layer_channels',
    'extract_grid', 'check_scratch_space', 'compute_map', 'MAX_MAP_PIXELS'
]
