"""Pools of sampled pixels of a dataset and their features: drawn from the
labels, filled from the feature cache or from forward passes that other
consumers (a map grid) may share."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.logging import print_log

from ..metrics._inputs import softmax
from ..sampling import (SamplingSettings, check_label_ids, draw_pool,
                        repetitions)
from .cache import ArrayCache, cache_key, dataset_fingerprint
from .features import (forward_images, pool_arrays, pool_samples,
                       read_label_maps)


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
        sampling (SamplingSettings): How the pool is drawn.
        cache (ArrayCache): Feature cache.
        role (str): ``'target'`` or ``'source'`` (cache file name).
    """

    def __init__(self, model_key: str, dataset, images: Sequence[int],
                 label_maps: List[np.ndarray], fingerprint: str,
                 sampling: SamplingSettings, cache: ArrayCache,
                 role: str) -> None:
        check_label_ids(label_maps, len(dataset.metainfo['classes']),
                        dataset.ignore_index, f'{role} dataset')
        self.pool = draw_pool(label_maps, dataset.ignore_index, sampling)
        # pool indices are per position in ``images``
        self.images = np.asarray(images)[np.unique(self.pool.image)]
        self.sampling, self.cache, self.role = sampling, cache, role
        self.key = cache_key(
            model=model_key,
            data=fingerprint,
            ignore=dataset.ignore_index,
            pool=sampling.pool_key())
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
                        sampling=self.sampling.pool_key()))
        # the pool is drawn from the labels alone, so its image indices
        # belong to cached arrays too
        return PixelData(
            dict(self.arrays, images=self.pool.image),
            repetitions(self.pool, self.sampling))


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
                   sampling: SamplingSettings,
                   cache: ArrayCache,
                   role: str,
                   max_images: Optional[int] = None,
                   batch_size: int = 1) -> PixelData:
    """Pool features of a dataset, from the cache when possible.

    Args:
        model: Segmentor in eval mode.
        model_key (str): Identity of config and weights.
        dataset: The built dataset.
        sampling (SamplingSettings): How the pool is drawn.
        cache (ArrayCache): Feature cache.
        role (str): ``'target'`` or ``'source'`` (cache file name).
        max_images (int, optional): Use a seeded subset of this many images.
        batch_size (int): Images per forward pass.

    Returns:
        PixelData: Arrays and repetitions.
    """
    images = seeded_subset(len(dataset), max_images, sampling.seed)
    side = SampledSide(model_key, dataset, images,
                       read_label_maps(dataset, images),
                       dataset_fingerprint(dataset, images), sampling, cache,
                       role)
    if side.needs_pass:
        run_pass(model, dataset, side.images, [side], batch_size,
                 f'{role} features')
    return side.finish()


__all__ = [
    'seeded_subset', 'PixelData', 'SampledSide', 'run_pass', 'sampled_pixels'
]
