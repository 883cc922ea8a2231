"""Atomic file writes (no MMSeg import)."""
import os
import os.path as osp
import tempfile


def _process_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Read once at import: ``os.umask`` can only be read by setting it, which
#: is not safe while other threads create files.
UMASK = _process_umask()


def atomic_write(path: str, write) -> None:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically,
    so a crash never leaves a half-written file under the final name. The
    file gets the permissions a plain ``open(path, 'w')`` would give
    (``0o666`` less the umask), not the temporary file's private ``0o600``.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = osp.splitext(path)[1]
    handle, tmp = tempfile.mkstemp(dir=folder, suffix=suffix)
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)
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
