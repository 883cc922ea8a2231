"""Atomic file writes (no MMSeg import)."""
import os
import os.path as osp
import tempfile


def atomic_write(path: str, write) -> None:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically,
    so a crash never leaves a half-written file under the final name."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = osp.splitext(path)[1]
    handle, tmp = tempfile.mkstemp(dir=folder, suffix=suffix)
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path: str, text: str) -> None:
    """Write a text file atomically (see :func:`atomic_write`)."""

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(path, write)


__all__ = ['atomic_write', 'atomic_write_text']
