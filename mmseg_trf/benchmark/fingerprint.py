"""What a benchmark step's result depends on, as digests.

A cached step is served only while these digests are unchanged: the fully
resolved config (``_base_`` files and ``--cfg-options`` applied), the files
of every dataset it reads (path, size, modification time), and the contents
of the checkpoint it starts from. Digests are memoised for one run of the
grid, so a checkpoint shared by many steps is read once. Configs are read
one at a time: MMEngine's ``mmseg::`` lookup is not thread-safe and the
runner's side-by-side steps call this from threads.
"""
import json
import os
import threading
from functools import lru_cache

from mmengine.config import Config

from ..pixels.cache import cache_key, checkpoint_identity, dataset_fingerprint
from ..pixels.features import build_dataset

DATASET_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_CONFIG_LOCK = threading.Lock()


@lru_cache(maxsize=None)
def _config_fingerprint(path: str, options: str) -> str:
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(json.loads(options))
    datasets = {
        key: cfg[key]['dataset'].to_dict()
        for key in DATASET_KEYS if cfg.get(key)
    }
    if 'trf_dataset' in cfg:
        datasets['trf_dataset'] = cfg.trf_dataset.to_dict()
    files = {}
    for key, dataset_cfg in datasets.items():
        dataset = build_dataset(dataset_cfg)
        files[key] = dataset_fingerprint(
            dataset, range(len(dataset)), content=False)
    return cache_key(config=cfg.to_dict(), files=files)


def config_fingerprint(path: str, options: dict = None) -> str:
    """Digest of a config with ``options`` merged and of its datasets' files.

    Args:
        path (str): Config file.
        options (dict, optional): ``--cfg-options``.

    Returns:
        str: The digest.
    """
    with _CONFIG_LOCK:
        return _config_fingerprint(
            path, json.dumps(options or {}, sort_keys=True, default=str))


@lru_cache(maxsize=None)
def _checkpoint_fingerprint(path: str, size: int, mtime: int) -> str:
    return checkpoint_identity(path)


def checkpoint_fingerprint(path: str) -> str:
    """Content digest of a checkpoint (a URL stands for itself)."""
    if '://' in path:
        return path
    stat = os.stat(path)
    return _checkpoint_fingerprint(path, stat.st_size, stat.st_mtime_ns)


__all__ = ['config_fingerprint', 'checkpoint_fingerprint']
