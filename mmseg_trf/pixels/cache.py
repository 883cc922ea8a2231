"""Content-keyed, atomically written caches of extracted pixel data.

A key hashes everything the cached arrays depend on: the checkpoint's
contents (SHA-256 of the file; a URL by itself), the model config, the
dataset's files (path, size and modification time of every image and label
map) and its label handling, and the sampling settings. A changed
checkpoint or dataset file therefore changes the key and is never served
stale data; a different metric, N or K within the pool reuses it.
"""
import hashlib
import json
import os
import os.path as osp
import warnings
from typing import Dict, Optional

import numpy as np

from ..fileio import atomic_write, atomic_write_text
from ..version import __version__


def file_digest(path: str, block: int = 1 << 20) -> str:
    """SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_identity(checkpoint: Optional[str]) -> str:
    """Content digest of a local checkpoint, or the URL itself."""
    if not checkpoint:
        return 'none'
    if '://' in checkpoint:
        return checkpoint
    return file_digest(osp.expanduser(checkpoint))


def dataset_fingerprint(dataset, indices, content: bool = True) -> str:
    """Digest of the files and label handling of some dataset images.

    Args:
        dataset: An MMSeg dataset.
        indices: The images.
        content (bool): Digest every image and label file's contents (what
            scoring and maps use: a rewritten file is always seen); else
            their path, size, modification and status-change times (for
            whole datasets too large to read: a rewrite changes the
            status-change time even when size and mtime are restored).

    Returns:
        str: The digest.
    """
    digest = hashlib.sha256()
    for index in indices:
        info = dataset.get_data_info(index)
        for key in ('img_path', 'seg_map_path'):
            path = info[key]
            if content:
                digest.update(f'{path}|{file_digest(path)}\n'.encode())
            else:
                stat = os.stat(path)
                digest.update(f'{path}|{stat.st_size}|{stat.st_mtime_ns}|'
                              f'{stat.st_ctime_ns}\n'.encode())
        digest.update(
            repr((info.get('label_map'),
                  info.get('reduce_zero_label'))).encode())
    digest.update(repr(getattr(dataset, 'pipeline', None)).encode())
    return digest.hexdigest()


def cache_key(**parts) -> str:
    """Short digest of JSON-serialisable key parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ArrayCache:
    """``.npz`` arrays with a JSON sidecar, keyed by :func:`cache_key`.

    Args:
        root (str): Cache folder.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, name: str, key: str) -> str:
        """Where an entry lives."""
        return osp.join(self.root, f'{name}-{key}.npz')

    def load(self, name: str, key: str) -> Optional[Dict[str, np.ndarray]]:
        """The cached arrays, or ``None`` if absent or unreadable."""
        path = self.path(name, key)
        if not osp.isfile(path):
            return None
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError) as err:
            warnings.warn(f'ignoring unreadable cache file {path}: {err}')
            return None

    def save(self, name: str, key: str, arrays: Dict[str, np.ndarray],
             meta: dict) -> str:
        """Store arrays (and a human-readable sidecar) atomically."""
        path = self.path(name, key)
        atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
        sidecar = dict(meta, key=key, mmseg_trf=__version__)
        atomic_write_text(
            path[:-4] + '.json',
            json.dumps(sidecar, indent=2, sort_keys=True, default=str))
        return path


def model_digest(model) -> str:
    """SHA-256 of a model's parameters and buffers."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


__all__ = [
    'model_digest', 'file_digest', 'checkpoint_identity',
    'dataset_fingerprint', 'cache_key', 'ArrayCache'
]
