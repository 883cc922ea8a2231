"""Atomic writes: all or nothing, with ordinary permissions."""
import os

import pytest

from mmseg_trf.fileio import UMASK, atomic_write, atomic_write_text


def test_written_files_get_the_permissions_of_a_plain_open(tmp_path):
    atomic_write_text(str(tmp_path / 'atomic.txt'), 'x')
    with open(tmp_path / 'plain.txt', 'w') as f:
        f.write('x')
    mode = (tmp_path / 'atomic.txt').stat().st_mode & 0o777
    assert mode == (tmp_path / 'plain.txt').stat().st_mode & 0o777
    assert mode == 0o666 & ~UMASK


def test_a_failed_write_leaves_nothing_behind(tmp_path):

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write('half')
        raise RuntimeError('crash')

    with pytest.raises(RuntimeError):
        atomic_write(str(tmp_path / 'out.txt'), write)
    assert os.listdir(tmp_path) == []
