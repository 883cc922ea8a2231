"""Which labelled pixels the metrics see (no MMSeg import).

A *pool* of pixel positions is drawn once per dataset and cached with the
features extracted there; the K repetitions of N pixels are then drawn from
the pool, so changing N or K (up to the pool size) does not rerun a model.

* ``uniform``: N pixels uniformly over all labelled pixels of all images,
  K repetitions (the OTCE segmentation paper: N = 10,000, K = 10). The pool
  holds ``max(N K, pool_size)`` pixels drawn without replacement;
  repetitions are disjoint slices of it while ``N K`` fits.
* ``balanced``: per image, pixels drawn without replacement with weights
  ``1 / (global frequency of their class)`` (Agostinelli et al., ECCV 2022:
  1,000 pixels per image); one repetition per ``pixels_per_image`` slice.

Ignored pixels (the dataset's ``ignore_index``) are never drawn.
"""
import warnings
from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from .checks import check_number

SAMPLERS = ('uniform', 'balanced', 'full')


@dataclass(frozen=True)
class SamplingSettings:
    """How pixels are sampled.

    Args:
        sampler (str): ``'uniform'``, ``'balanced'`` or ``'full'`` (every
            labelled pixel, through the streaming accumulators).
        num_pixels (int): N, pixels per repetition (uniform).
        repetitions (int): K.
        pixels_per_image (int): Per-image pixels per repetition (balanced).
        pool_size (int): Least pool size (uniform), so that other N reuse it.
        seed (int): Seed of the pool and of the repetitions.
    """

    sampler: str = 'uniform'
    num_pixels: int = 10000
    repetitions: int = 10
    pixels_per_image: int = 1000
    pool_size: int = 100000
    seed: int = 0

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f'unknown sampler {self.sampler!r}; choose one '
                             f'of {SAMPLERS}')
        for name in ('num_pixels', 'repetitions', 'pixels_per_image'):
            check_number(name, getattr(self, name), 1, integer=True)
        check_number('pool_size', self.pool_size, 0, integer=True)
        check_number('seed', self.seed, integer=True)

    def pool_key(self) -> dict:
        """The settings that decide the pool (and so the cached features)."""
        if self.sampler == 'uniform':
            return dict(
                sampler='uniform',
                seed=self.seed,
                size=max(self.num_pixels * self.repetitions, self.pool_size))
        if self.sampler == 'balanced':
            return dict(
                sampler='balanced',
                seed=self.seed,
                per_image=self.pixels_per_image * self.repetitions)
        return dict(sampler='full')


@dataclass
class PixelPool:
    """Sampled positions: ``image[i], row[i], col[i]`` for pool entry ``i``.

    Args:
        image (ndarray): Image index per entry.
        row (ndarray): Row in the label map.
        col (ndarray): Column in the label map.
        labels (ndarray): Label at the position.
        group (ndarray): Balanced pools: the slice (repetition) of the entry.
        shapes (ndarray): ``(num_images, 2)`` label map shapes.
    """

    image: np.ndarray
    row: np.ndarray
    col: np.ndarray
    labels: np.ndarray
    group: np.ndarray
    shapes: np.ndarray

    def __len__(self) -> int:
        return len(self.image)

    def positions_of(self, index: int):
        """Rows and columns (and their pool indices) in image ``index``."""
        where = np.flatnonzero(self.image == index)
        return where, self.row[where], self.col[where]


def check_label_ids(label_maps: Sequence[np.ndarray], num_classes: int,
                    ignore_index: int, where: str) -> None:
    """Refuse label ids that are neither a class nor ``ignore_index``.

    Args:
        label_maps (list[ndarray]): Label maps as the pipeline loads them.
        num_classes (int): Classes of the dataset (ids ``0..C-1``).
        ignore_index (int): Label of unlabelled pixels.
        where (str): The dataset, for the message.
    """
    found = set()
    for m in label_maps:
        ids = np.unique(m)
        found.update(ids[(ids >= num_classes)
                         & (ids != ignore_index)].tolist())
    if found:
        raise ValueError(
            f'{where}: label ids {sorted(found)[:10]} are neither one of its '
            f'{num_classes} classes (0-{num_classes - 1}) nor the ignore '
            f'index {ignore_index}; fix the labels or the dataset\'s classes '
            '(metainfo, label_map, reduce_zero_label)')


def valid_positions(label_map: np.ndarray, ignore_index: int) -> np.ndarray:
    """Flat indices of the labelled pixels of one label map."""
    return np.flatnonzero(label_map.ravel() != ignore_index)


def _pool_from_flat(label_maps, image, flat, group) -> PixelPool:
    width = np.array([m.shape[1] for m in label_maps])[image]
    labels = np.empty(len(image), np.int64)
    for index in np.unique(image):
        where = image == index
        labels[where] = label_maps[index].ravel()[flat[where]]
    return PixelPool(
        image=image.astype(np.int64),
        row=(flat // width).astype(np.int64),
        col=(flat % width).astype(np.int64),
        labels=labels,
        group=group.astype(np.int64),
        shapes=np.array([m.shape for m in label_maps]))


def uniform_pool(label_maps: Sequence[np.ndarray], ignore_index: int,
                 size: int, seed: int) -> PixelPool:
    """Pixels uniformly without replacement over all labelled pixels.

    Args:
        label_maps (list[ndarray]): One ``(H, W)`` map per image.
        ignore_index (int): Label of unlabelled pixels.
        size (int): Pool size (capped at the number of labelled pixels).
        seed (int): Seed.

    Returns:
        PixelPool: In random order, so any prefix is a uniform sample.
    """
    valid = [valid_positions(m, ignore_index) for m in label_maps]
    counts = np.array([len(v) for v in valid])
    total = int(counts.sum())
    if total == 0:
        raise ValueError('no labelled pixels: every pixel is ignore_index')
    rng = np.random.default_rng(seed)
    chosen = rng.choice(total, size=min(size, total), replace=False)
    starts = np.concatenate([[0], np.cumsum(counts)])
    image = np.searchsorted(starts, chosen, side='right') - 1
    flat = np.empty(len(chosen), np.int64)
    for index in np.unique(image):
        where = image == index
        flat[where] = valid[index][chosen[where] - starts[index]]
    return _pool_from_flat(label_maps, image, flat, np.zeros_like(image))


def balanced_pool(label_maps: Sequence[np.ndarray], ignore_index: int,
                  per_image: int, slices: int, seed: int) -> PixelPool:
    """Per-image class-balanced pixels (weights 1 / global class frequency).

    Weighted sampling without replacement by exponential keys (Efraimidis &
    Spirakis): the ``k`` smallest ``-log(u) / w`` are a weighted sample.

    Args:
        label_maps (list[ndarray]): One ``(H, W)`` map per image.
        ignore_index (int): Label of unlabelled pixels.
        per_image (int): Pixels per image per slice.
        slices (int): Number of disjoint slices (repetitions).
        seed (int): Seed.

    Returns:
        PixelPool: ``group`` tells each entry's slice.
    """
    ids, freq = np.unique(
        np.concatenate([m[m != ignore_index].ravel() for m in label_maps]),
        return_counts=True)
    if not len(ids):
        raise ValueError('no labelled pixels: every pixel is ignore_index')
    images, flats, groups = [], [], []
    for index, m in enumerate(label_maps):
        flat = valid_positions(m, ignore_index)
        if not len(flat):
            continue
        rng = np.random.default_rng([seed, index])
        keys = -np.log(rng.random(len(flat))) * freq[np.searchsorted(
            ids,
            m.ravel()[flat])]
        take = min(per_image * slices, len(flat))
        order = np.argsort(keys)[:take]
        images.append(np.full(take, index))
        flats.append(flat[order])
        groups.append(np.arange(take) // per_image)
    return _pool_from_flat(label_maps, np.concatenate(images),
                           np.concatenate(flats), np.concatenate(groups))


def full_pool(label_maps: Sequence[np.ndarray],
              ignore_index: int) -> PixelPool:
    """Every labelled pixel of every image."""
    images, flats = [], []
    for index, m in enumerate(label_maps):
        flat = valid_positions(m, ignore_index)
        images.append(np.full(len(flat), index))
        flats.append(flat)
    image = np.concatenate(images)
    if not len(image):
        raise ValueError('no labelled pixels: every pixel is ignore_index')
    return _pool_from_flat(label_maps, image, np.concatenate(flats),
                           np.zeros_like(image))


def draw_pool(label_maps: Sequence[np.ndarray], ignore_index: int,
              settings: SamplingSettings) -> PixelPool:
    """The pool for these settings (see the module docstring)."""
    key = settings.pool_key()
    if key['sampler'] == 'uniform':
        return uniform_pool(label_maps, ignore_index, key['size'],
                            settings.seed)
    if key['sampler'] == 'balanced':
        return balanced_pool(label_maps, ignore_index,
                             settings.pixels_per_image, settings.repetitions,
                             settings.seed)
    return full_pool(label_maps, ignore_index)


def repetitions(pool: PixelPool,
                settings: SamplingSettings) -> List[np.ndarray]:
    """Pool indices of each repetition.

    Uniform: disjoint slices of N while ``N K`` fits in the pool, otherwise
    K seeded random subsets of N. Balanced: the pool's slices. Full: one
    repetition with everything.

    Args:
        pool (PixelPool): The drawn pool.
        settings (SamplingSettings): Sampling settings.

    Returns:
        list[ndarray]: K index arrays into the pool.
    """
    if settings.sampler == 'full':
        return [np.arange(len(pool))]
    if settings.sampler == 'balanced':
        return [
            np.flatnonzero(pool.group == g)
            for g in range(settings.repetitions) if (pool.group == g).any()
        ]
    n, k = min(settings.num_pixels, len(pool)), settings.repetitions
    if n < settings.num_pixels:
        warnings.warn(
            f'N = {settings.num_pixels} pixels per repetition was asked for '
            f'but only {len(pool)} labelled pixels were sampled: N = {n} is '
            'used' +
            (', so the K repetitions are identical (std 0)' if k > 1 else ''))
    if n * k <= len(pool):
        return [np.arange(r * n, (r + 1) * n) for r in range(k)]
    rng = np.random.default_rng([settings.seed, n, k])
    return [np.sort(rng.choice(len(pool), n, replace=False)) for _ in range(k)]


__all__ = [
    'SAMPLERS', 'SamplingSettings', 'PixelPool', 'draw_pool', 'repetitions',
    'uniform_pool', 'balanced_pool', 'full_pool', 'valid_positions',
    'check_label_ids'
]
