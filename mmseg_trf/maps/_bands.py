"""Maps computed from grids kept on disk, a band of patch rows at a time,
optionally by several processes. No MMSeg import.

A transferability map pools every location over all images, but its
metrics only ever look at one band of rows at a time. :class:`GridStore`
lets feature extraction write one image at a time and the map read one band
at a time, so host memory holds one image's grid plus one band, whatever
the number of images, cells and channels. Reads and writes go through plain
file I/O (no memory map), so the data sits in the page cache, not in the
process's resident memory.
"""
import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from ._grid import grid_positions
from ._patches import fill_sparse, patch_scores

#: Grid cells sampled from a feature map at once.
CELL_CHUNK = 1 << 16
#: Pixel data per band of a map computed from disk (all images, both sides;
#: the metrics' float64 intermediates take several times this).
BAND_BYTES = 16 << 20


class GridStore:
    """``(N, H, W, *item_shape)`` array in a file, written per image and
    read per band of rows.

    Other ranks open the main rank's file (``create=False``); map workers
    reach it through a pickled copy, which holds the path and layout only.

    Args:
        path (str): The scratch file.
        num_images (int): ``N``.
        map_shape (tuple): ``(H, W)``.
        item_shape (tuple): Per-pixel shape, e.g. ``(d, )`` or ``()``.
        dtype: Element type.
        create (bool): Create (or truncate) the file at its full size.
    """

    def __init__(self,
                 path: str,
                 num_images: int,
                 map_shape: Tuple[int, int],
                 item_shape: Sequence[int] = (),
                 dtype=np.float32,
                 create: bool = True) -> None:
        self.path = path
        self.shape = (int(num_images), int(map_shape[0]), int(
            map_shape[1])) + tuple(int(s) for s in item_shape)
        self.dtype = np.dtype(dtype)
        if create:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, 'wb') as f:
                f.truncate(self.nbytes)

    @property
    def row_bytes(self) -> int:
        """Bytes of one grid row of one image."""
        return int(np.prod(self.shape[2:])) * self.dtype.itemsize

    @property
    def image_bytes(self) -> int:
        return self.row_bytes * self.shape[1]

    @property
    def nbytes(self) -> int:
        return self.image_bytes * self.shape[0]

    def write(self,
              image: int,
              values: np.ndarray,
              first_cell: int = 0) -> None:
        """Store grid cells of one image, row-major from ``first_cell``
        (by default the whole ``(H, W, ...)`` or ``(H * W, ...)`` grid)."""
        values = np.ascontiguousarray(values, self.dtype)
        cell_bytes = self.row_bytes // self.shape[2]
        offset = first_cell * cell_bytes
        if values.nbytes % cell_bytes or (offset + values.nbytes
                                          > self.image_bytes):
            raise ValueError(f'{values.shape} values from cell {first_cell} '
                             f'do not fit the grid {self.shape[1:]}')
        with open(self.path, 'r+b') as f:
            f.seek(image * self.image_bytes + offset)
            f.write(values.tobytes())

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of every image: ``(N, stop - start, W, ...)``.
        """
        count = stop - start
        out = np.empty((self.shape[0], count) + self.shape[2:], self.dtype)
        with open(self.path, 'rb') as f:
            for image in range(self.shape[0]):
                f.seek(image * self.image_bytes + start * self.row_bytes)
                f.readinto(memoryview(out[image]).cast('B'))
        return out

    def remove(self) -> None:
        """Delete the scratch file."""
        if os.path.exists(self.path):
            os.remove(self.path)


class GridSide:
    """One dataset's images written onto the map grid, from forward passes
    run by the caller (:meth:`take`).

    Args:
        images (list[int]): The dataset's images; image ``images[k]`` goes
            to slot ``k`` of the stores.
        label_maps (list[ndarray]): Their label maps.
        stores (tuple[GridStore]): ``(features, labels)``.
        layer (str): ``'logits'`` or ``'pre_logits'``.
    """

    def __init__(self, images: List[int], label_maps: List[np.ndarray],
                 stores: Tuple[GridStore, GridStore], layer: str) -> None:
        self.slot = {image: k for k, image in enumerate(images)}
        self.label_maps, self.stores, self.layer = label_maps, stores, layer

    def take(self, image: int, taps) -> None:
        """Write this image's labels and ``layer`` values on the grid."""
        features, labels = self.stores
        slot = self.slot[image]
        label_map = self.label_maps[slot]
        rows, cols = grid_positions(label_map.shape, labels.shape[1:3])
        labels.write(slot, label_map[rows, cols].astype(np.int32))
        for first in range(0, len(rows), CELL_CHUNK):
            part = slice(first, first + CELL_CHUNK)
            features.write(
                slot,
                taps.sample(self.layer, rows[part], cols[part],
                            label_map.shape), first)


def map_bands(map_shape: Tuple[int, int],
              patch: int,
              pixel_bytes: int,
              num_images: int,
              max_bytes: Optional[int] = None,
              min_bands: int = 1) -> List[Tuple[int, int]]:
    """Split the grid's whole patch rows into bands of at most ``max_bytes``
    of pixel data (at least one patch row each).

    Args:
        map_shape (tuple): ``(H, W)`` of the grid.
        patch (int): Patch side.
        pixel_bytes (int): Bytes per pixel of all images' values together
            divided by ``num_images`` (e.g. target plus source features).
        num_images (int): Images per side.
        max_bytes (int, optional): Budget per band (:data:`BAND_BYTES`).
        min_bands (int): Cut at least this many bands where there are
            enough patch rows (work to share among processes).

    Returns:
        list[tuple]: ``(start, stop)`` grid rows, multiples of ``patch``.
    """
    height, width = map_shape
    if patch < 1:
        raise ValueError(f'patch size must be a positive integer, got {patch}')
    patch_rows = height // patch
    if patch_rows == 0 or width // patch == 0:
        raise ValueError(f'map {height}x{width} is smaller than one '
                         f'{patch}x{patch} patch')
    row_bytes = patch * width * pixel_bytes * num_images
    per_band = int(
        min(-(-patch_rows // min_bands),
            max(1, (max_bytes or BAND_BYTES) // row_bytes)))
    return [(start * patch, min(start + per_band, patch_rows) * patch)
            for start in range(0, patch_rows, per_band)]


def store_bands(target: GridStore,
                source: Optional[GridStore],
                patch: int,
                min_bands: int = 1) -> List[Tuple[int, int]]:
    """:func:`map_bands` of the grids in these stores (target and, for
    OTCE, source values read together)."""
    width = target.shape[2]
    pixel_bytes = sum(s.row_bytes // width for s in (target, source)
                      if s is not None)
    return map_bands(
        target.shape[1:3],
        patch,
        pixel_bytes,
        target.shape[0],
        min_bands=min_bands)


def _band_scores(job: tuple) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`patch_scores` of one band, read from its stores."""
    metric, (start, stop), stores, patch, ignore_index, min_pixels = job
    target, target_labels, source, source_labels = (
        None if store is None else store.read_rows(start, stop)
        for store in stores)
    return patch_scores(metric, target, target_labels, patch, ignore_index,
                        min_pixels, source, source_labels)


def _single_threaded() -> None:
    """Map workers run one thread each (numbers of workers = cores)."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    torch.set_num_threads(1)


def banded_patch_scores(metric: str,
                        target: GridStore,
                        target_labels: GridStore,
                        bands: Sequence[Tuple[int, int]],
                        patch: int = 4,
                        ignore_index: int = 255,
                        min_pixels: int = 5,
                        source: Optional[GridStore] = None,
                        source_labels: Optional[GridStore] = None,
                        workers: int = 1,
                        progress=None) -> List[Tuple[np.ndarray, np.ndarray]]:
    """:func:`patch_scores` of some bands of grids kept on disk.

    Only one band per worker is in memory at a time. With ``workers > 1``
    the bands are scored by that many processes (each opens the stores
    itself), the way to use every core for OTCE, whose per-patch solves are
    single-threaded.

    Args:
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        target (GridStore): Target values (features; logits for LEEP).
        target_labels (GridStore): Target labels.
        bands (Sequence[tuple]): ``(start, stop)`` grid rows
            (:func:`map_bands`).
        patch (int): Patch side.
        ignore_index (int): Unlabelled value.
        min_pixels (int): Fewest labelled pixels per patch.
        source (GridStore, optional): Source features (OTCE).
        source_labels (GridStore, optional): Source labels (OTCE).
        workers (int): Processes.
        progress (callable, optional): Called with each band's patch count.

    Returns:
        list[tuple]: Per band, its scores and labelled-pixel counts.
    """
    if metric == 'otce' and (source is None or source_labels is None):
        raise ValueError('an OTCE map needs source features and labels')
    stores = (target, target_labels, source, source_labels)
    jobs = [(metric, band, stores, patch, ignore_index, min_pixels)
            for band in bands]
    results = []
    with contextlib.ExitStack() as stack:
        run = map
        if workers > 1 and len(jobs) > 1:
            run = stack.enter_context(
                ProcessPoolExecutor(
                    min(workers, len(jobs)),
                    mp_context=multiprocessing.get_context('fork'),
                    initializer=_single_threaded)).map
        for scores, counts in run(_band_scores, jobs):
            results.append((scores, counts))
            if progress is not None:
                progress(len(scores))
    return results


def assemble_map(results: Sequence[Tuple[np.ndarray, np.ndarray]],
                 map_shape: Tuple[int, int], patch: int,
                 min_pixels: int) -> np.ndarray:
    """The filled map (eq. 3) from every band's scores, in band order."""
    scores = np.concatenate([r[0] for r in results])
    counts = np.concatenate([r[1] for r in results])
    return fill_sparse(scores, counts,
                       min_pixels).reshape(map_shape[0] // patch,
                                           map_shape[1] // patch)


__all__ = [
    'BAND_BYTES', 'CELL_CHUNK', 'GridStore', 'GridSide', 'map_bands',
    'store_bands', 'banded_patch_scores', 'assemble_map'
]
