"""Label spaces (tasks) of the demo's sources: the 19 Cityscapes classes,
their 7 categories, or a subset of the classes."""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

IGNORE = 255


@dataclass(frozen=True)
class LabelSpace:
    """A task: class names and the map from Cityscapes train ids.

    Args:
        name (str): Task name.
        classes (tuple[str]): Class names, index = label value.
        table (ndarray): ``(256,)`` train id -> label (255 = ignored).
    """

    name: str
    classes: Tuple[str, ...]
    table: np.ndarray

    def __call__(self, train_ids: np.ndarray) -> np.ndarray:
        """Relabel a train-id map."""
        return self.table[train_ids]

    @property
    def identity(self) -> bool:
        """bool: Whether this is the 19-class Cityscapes task itself."""
        return self.name == 'cityscapes19'


def _cityscapes_labels():
    from cityscapesscripts.helpers.labels import trainId2label
    return [trainId2label[i] for i in range(19)]


def cityscapes19() -> LabelSpace:
    """The 19 Cityscapes train classes."""
    table = np.full(256, IGNORE, np.uint8)
    table[:19] = np.arange(19)
    return LabelSpace('cityscapes19',
                      tuple(label.name for label in _cityscapes_labels()),
                      table)


def coarse() -> LabelSpace:
    """The 7 Cityscapes categories (flat, construction, object, nature,
    sky, human, vehicle): a coarser task."""
    labels = _cityscapes_labels()
    categories = sorted({label.categoryId for label in labels})
    names = {label.categoryId: label.category for label in labels}
    table = np.full(256, IGNORE, np.uint8)
    for train_id, label in enumerate(labels):
        table[train_id] = categories.index(label.categoryId)
    return LabelSpace('coarse', tuple(names[c] for c in categories), table)


def subset(keep: Tuple[str, ...]) -> LabelSpace:
    """Only some Cityscapes classes, the others ignored."""
    labels = _cityscapes_labels()
    names = [label.name for label in labels]
    unknown = set(keep) - set(names)
    if unknown:
        raise ValueError(f'unknown classes {sorted(unknown)}')
    table = np.full(256, IGNORE, np.uint8)
    kept = [n for n in names if n in keep]
    for train_id, name in enumerate(names):
        if name in kept:
            table[train_id] = kept.index(name)
    return LabelSpace('subset', tuple(kept), table)


def label_space(spec) -> LabelSpace:
    """A task from its scenario entry: ``'cityscapes19'``, ``'coarse'`` or
    ``{'subset': [class names]}``."""
    if spec == 'cityscapes19':
        return cityscapes19()
    if spec == 'coarse':
        return coarse()
    if isinstance(spec, dict) and 'subset' in spec:
        return subset(tuple(spec['subset']))
    raise ValueError(f'unknown task {spec!r}: use cityscapes19, coarse or '
                     '{subset: [...]}')


__all__ = ['LabelSpace', 'label_space', 'cityscapes19', 'coarse', 'subset']
