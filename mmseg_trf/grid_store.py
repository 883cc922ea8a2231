"""Per-image arrays on the map grid, kept in a scratch file. No MMSeg import.

A transferability map pools every location over all images, but its
metrics only ever look at one band of rows at a time. :class:`GridStore`
lets feature extraction write one image at a time and the map read one band
at a time, so host memory holds one image's grid plus one band, whatever
the number of images, cells and channels. Reads and writes go through plain
file I/O (no memory map), so the data sits in the page cache, not in the
process's resident memory.
"""
import os
from typing import Sequence, Tuple

import numpy as np


class GridStore:
    """``(N, H, W, *item_shape)`` array in a file, written per image and
    read per band of rows.

    Opening an existing store (``create=False``) is how other processes
    (map workers, other ranks) reach the same data; the object pickles as
    its path and layout.

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

    def reopen(self) -> 'GridStore':
        """The same store, for another process."""
        return GridStore(
            self.path,
            self.shape[0],
            self.shape[1:3],
            self.shape[3:],
            self.dtype,
            create=False)

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


__all__ = ['GridStore']
