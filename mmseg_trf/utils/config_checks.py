"""Early, path-naming errors for configs that point at missing files."""
import os.path as osp
from typing import Iterator, Tuple

from mmengine.config import Config, ConfigDict

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def leaf_datasets(cfg: ConfigDict) -> Iterator[ConfigDict]:
    """Leaf dataset configs, looking through dataset wrappers."""
    if 'datasets' in cfg:
        for child in cfg.datasets:
            yield from leaf_datasets(child)
    elif 'dataset' in cfg:
        yield from leaf_datasets(cfg.dataset)
    else:
        yield cfg


def dataset_paths(dataset: ConfigDict) -> Iterator[Tuple[str, str]]:
    """``(what, path)`` pairs a dataset config reads from.

    Args:
        dataset (ConfigDict): A dataset config (``data_root``,
            ``data_prefix``, ``ann_file``).

    Returns:
        Iterator[tuple[str, str]]: Descriptions and absolute-or-relative
        paths, joined to ``data_root`` like MMEngine does.
    """
    root = dataset.get('data_root') or ''
    if root:
        yield 'data_root', root
    for key, prefix in (dataset.get('data_prefix') or {}).items():
        if prefix:
            yield f'data_prefix.{key}', osp.join(root, prefix)
    if dataset.get('ann_file'):
        yield 'ann_file', osp.join(root, dataset.ann_file)


def check_data_paths(cfg: Config) -> None:
    """Raise ``FileNotFoundError`` naming the first missing dataset path.

    Args:
        cfg (Config): A full training/testing config.
    """
    for loader in DATALOADERS:
        if not cfg.get(loader):
            continue
        for dataset in leaf_datasets(cfg[loader].dataset):
            for what, path in dataset_paths(dataset):
                if not osp.exists(path):
                    raise FileNotFoundError(
                        f'{loader}: {what} {path!r} does not exist '
                        f'(dataset {dataset.get("type")})')


def check_checkpoint_path(path: str, what: str = 'checkpoint') -> None:
    """Raise ``FileNotFoundError`` if a local checkpoint path is missing.

    Args:
        path (str): Local path or URL (URLs are not checked).
        what (str): Its role, for the message.
    """
    if not path or '://' in path:
        return
    if osp.isdir(osp.expanduser(path)):
        raise FileNotFoundError(f'{what} {path!r} is a directory, not a '
                                'checkpoint file')
    if not osp.isfile(osp.expanduser(path)):
        raise FileNotFoundError(f'{what} {path!r} does not exist')


__all__ = [
    'check_data_paths', 'check_checkpoint_path', 'dataset_paths',
    'leaf_datasets'
]
