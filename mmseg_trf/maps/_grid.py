"""The map grid: its default size, where its cells fall in a label map, and
the scratch disk its values need. No MMSeg import."""
import shutil
from typing import Tuple

import numpy as np

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


def check_scratch_space(folder: str, needed: int) -> None:
    """Refuse, before any work, a map whose grids do not fit on disk."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise MemoryError(
            f'the map grids need {needed / 2**30:.1f} GiB of scratch disk in '
            f'{folder}, {free / 2**30:.1f} GiB are free: use '
            "layer='logits' (19-ish channels instead of hundreds), a smaller "
            'map_shape, fewer source_images, or another scratch_dir')


__all__ = [
    'MAX_MAP_PIXELS', 'default_map_shape', 'grid_positions',
    'check_scratch_space'
]
