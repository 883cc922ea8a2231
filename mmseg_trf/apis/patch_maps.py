"""Transferability and weight maps of a live segmentor (MMSeg glue for
:mod:`mmseg_trf.transfer_map`).

Every target image's label map is resampled onto a common *map grid*: map
pixel ``(r, c)`` takes the label pixel nearest to its centre,
``floor((r + 0.5) * h_label / H)``, and the feature there (paired as in
:mod:`mmseg_trf.apis.features`). Source images are resampled onto the same
grid, so a source patch is the target patch's location scaled to the source
image size. By default the grid is the label resolution halved until it
holds at most 512 x 1024 pixels (the seed's maps).
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..transfer_map import transferability_map
from .features import (IndexedDataset, build_dataset, gathered_pixel_features,
                       read_label_maps, softmax)

MAX_MAP_PIXELS = 512 * 1024


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


def grid_pixels(model,
                dataset,
                images: Sequence[int],
                map_shape: Tuple[int, int],
                batch_size: int = 1) -> Dict[str, np.ndarray]:
    """Features, logits and labels of some images on the map grid.

    Returns:
        dict: ``pre_logits`` ``(N, H, W, C)``, ``logits`` ``(N, H, W, K)``
        (float32) and ``labels`` ``(N, H, W)``.
    """
    label_maps = read_label_maps(dataset, images)
    cells = map_shape[0] * map_shape[1]
    grids = [grid_positions(m.shape, map_shape) for m in label_maps]

    def positions(index):
        return (np.arange(cells), ) + grids[index]

    view = IndexedDataset(dataset, images)
    parts = gathered_pixel_features(model, view, range(len(images)), positions,
                                    [m.shape for m in label_maps], batch_size,
                                    'map features')
    out = dict(
        pre_logits=np.zeros((len(images), cells, parts[0][2].shape[1]),
                            np.float32),
        logits=np.zeros((len(images), cells, parts[0][3].shape[1]),
                        np.float32))
    for index, key, pre, logit in parts:
        out['pre_logits'][index, key], out['logits'][index, key] = pre, logit
    out = {k: v.reshape(len(images), *map_shape, -1) for k, v in out.items()}
    out['labels'] = np.stack([
        m[rows, cols].reshape(map_shape)
        for m, (rows, cols) in zip(label_maps, grids)
    ])
    return out


def map_inputs(model,
               target_cfg: dict,
               metric: str,
               map_shape: Optional[Tuple[int, int]] = None,
               source_cfg: Optional[dict] = None,
               source_images: int = 20,
               layer: str = 'logits',
               batch_size: int = 1,
               seed: int = 0) -> dict:
    """Everything :func:`~mmseg_trf.transfer_map.transferability_map` needs,
    extracted on the map grid (all processes take part; every process gets
    the arrays).

    Args:
        model: Segmentor in eval mode.
        target_cfg (dict): Target dataset (all its images are pooled).
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        map_shape (tuple, optional): ``(H, W)`` of the map grid.
        source_cfg (dict, optional): Source dataset (OTCE).
        source_images (int): Source images used (seeded subset).
        layer (str): ``'logits'`` or ``'pre_logits'`` features.
        batch_size (int): Images per forward pass.
        seed (int): Seed of the source subset.

    Returns:
        dict: Keyword arguments of ``transferability_map`` plus
        ``map_shape``.
    """
    target = build_dataset(target_cfg)
    if map_shape is None:
        first = read_label_maps(target, [0])[0]
        map_shape = default_map_shape(first.shape)
    tgt = grid_pixels(model, target, range(len(target)), map_shape, batch_size)
    inputs = dict(
        metric=metric,
        tgt_features=tgt[layer],
        tgt_labels=tgt['labels'],
        tgt_probs=softmax(tgt['logits']),
        ignore_index=target.ignore_index,
        map_shape=tuple(map_shape))
    if metric == 'otce':
        if source_cfg is None:
            raise ValueError('an OTCE map needs the source dataset')
        source = build_dataset(source_cfg)
        rng = np.random.default_rng(seed)
        chosen = sorted(
            rng.choice(
                len(source), min(source_images, len(source)),
                replace=False).tolist())
        src = grid_pixels(model, source, chosen, map_shape, batch_size)
        inputs.update(src_features=src[layer], src_labels=src['labels'])
    return inputs


def patch_transferability(model,
                          target_cfg: dict,
                          metric: str,
                          patch: int = 4,
                          min_pixels: int = 5,
                          progress=None,
                          **kwargs) -> Tuple[np.ndarray, Tuple[int, int]]:
    """The transferability map (eq. 3) of a model on a target dataset.

    Args:
        model: Segmentor in eval mode.
        target_cfg (dict): Target dataset.
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        patch (int): Patch side on the map grid.
        min_pixels (int): Fewest labelled pixels per patch.
        progress (callable, optional): Called per patch (OTCE).
        **kwargs: Further arguments of :func:`map_inputs`.

    Returns:
        tuple: The ``(H // patch, W // patch)`` map and the grid shape.
    """
    inputs = map_inputs(model, target_cfg, metric, **kwargs)
    map_shape = inputs.pop('map_shape')
    return transferability_map(
        patch=patch, min_pixels=min_pixels, progress=progress,
        **inputs), map_shape


__all__ = [
    'default_map_shape', 'grid_positions', 'grid_pixels', 'map_inputs',
    'patch_transferability', 'MAX_MAP_PIXELS'
]
