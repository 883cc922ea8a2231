"""The map grid, and refusing maps whose grids do not fit on disk."""
import shutil
from collections import namedtuple

import numpy as np
import pytest

from mmseg_trf import maps


def test_default_map_shape_halves_cityscapes_labels():
    assert maps.default_map_shape((1024, 2048)) == (512, 1024)
    assert maps.default_map_shape((64, 128)) == (64, 128)


def test_grid_positions_take_the_nearest_label_pixel():
    rows, cols = maps.grid_positions((4, 8), (2, 4))
    np.testing.assert_array_equal(rows.reshape(2, 4)[:, 0], [1, 3])
    np.testing.assert_array_equal(cols.reshape(2, 4)[0], [1, 3, 5, 7])


def test_leep_reads_logits_whatever_the_layer():
    assert maps.map_layer('leep', 'pre_logits') == 'logits'
    assert maps.map_layer('logme', 'pre_logits') == 'pre_logits'


def test_a_map_too_large_for_the_scratch_disk_is_refused(
        tmp_path, monkeypatch):
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage',
                        lambda path: usage(100 << 30, 90 << 30, 10 << 30))
    # the user's case on pre_logits: 40 images x 524,288 cells x 513 x 4 B
    needed = 40 * 524288 * 513 * 4
    with pytest.raises(MemoryError, match=r"40\.1 GiB .* 10\.0 GiB .*logits"):
        maps.check_scratch_space(str(tmp_path), needed)
    maps.check_scratch_space(str(tmp_path), 1 << 30)  # fits
