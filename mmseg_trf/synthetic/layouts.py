"""Write generated scenes in the directory layouts of real datasets.

The files are what the real datasets' MMSeg configs read, so tests and the
demo exercise the real data paths:

* Cityscapes: ``leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_``
  ``leftImg8bit.png`` with ``gtFine/<split>/<city>/..._gtFine_``
  ``labelTrainIds.png`` (and ``_gtFine_labelIds.png``, the raw ids).
* BDD100K, GTA5 (raw ids, before ``tools/convert_gta5.py``) and ADE20K:
  see their writers.
"""
import os
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .scenes import SceneStyle, render_scene


def cityscapes_id_of_train_id() -> np.ndarray:
    """Lookup table train id (0-18, 255) -> Cityscapes label id."""
    from cityscapesscripts.helpers.labels import labels
    table = np.zeros(256, np.uint8)  # 255 -> 0, "unlabeled"
    for label in labels:
        if 0 <= label.trainId < 255 and not label.ignoreInEval:
            table[label.trainId] = label.id
    return table


def save_image(path: str, array: np.ndarray) -> None:
    """Write a uint8 image or label map (format by suffix), making folders."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def write_scenes(
    num_images: int, style: SceneStyle, size: Tuple[int, int], seed: int,
    files: Callable[[int], Sequence[Tuple[str,
                                          Callable[[np.ndarray, np.ndarray],
                                                   np.ndarray]]]]
) -> List[str]:
    """Render scenes and write each one's files.

    Image ``i`` is rendered from ``numpy.random.default_rng([seed, i])``, so
    the same seed always writes the same files.

    Args:
        num_images (int): Number of scenes.
        style (SceneStyle): Domain factors.
        size (tuple[int, int]): ``(height, width)``.
        seed (int): Seed of the scenes.
        files (callable): ``files(i)`` lists ``(path, encode)`` pairs;
            ``encode(image, train_ids)`` returns the array saved there.

    Returns:
        list[str]: The first file of each scene (its image).
    """
    written = []
    for index in range(num_images):
        image, labels = render_scene(
            np.random.default_rng([seed, index]), style, size)
        outputs = files(index)
        for path, encode in outputs:
            save_image(path, encode(image, labels))
        written.append(outputs[0][0])
    return written


def _image(image, labels):
    return image


def _mapped(label_map):
    if label_map is None:
        return lambda image, labels: labels
    return lambda image, labels: label_map(labels).astype(np.uint8)


def write_cityscapes(
    root: str,
    split: str,
    city: str,
    num_images: int,
    style: SceneStyle,
    size: Tuple[int, int] = (128, 256),
    seed: int = 0,
    label_map: Optional[Callable[[np.ndarray],
                                 np.ndarray]] = None) -> List[str]:
    """Scenes of one city in the Cityscapes layout.

    Args:
        root (str): Dataset root (the folder holding ``leftImg8bit``).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        city (str): City folder name.
        num_images (int): Number of images.
        style (SceneStyle): Domain factors of the scenes.
        size (tuple[int, int]): ``(height, width)``.
        seed (int): Seed of the scenes.
        label_map (callable, optional): Maps train-id label maps to another
            label space; the result is what ``labelTrainIds`` holds. Without
            it, ``labelIds`` files with the raw Cityscapes ids are written
            too.

    Returns:
        list[str]: The image paths written.
    """
    ids = cityscapes_id_of_train_id()

    def files(index):
        stem = f'{city}_{index:06d}_000019'
        gt = osp.join(root, 'gtFine', split, city, f'{stem}_gtFine_')
        out = [(osp.join(root, 'leftImg8bit', split, city,
                         f'{stem}_leftImg8bit.png'), _image),
               (gt + 'labelTrainIds.png', _mapped(label_map))]
        if label_map is None:
            out.append(
                (gt + 'labelIds.png', lambda image, labels: ids[labels]))
        return out

    return write_scenes(num_images, style, size, seed, files)


def write_bdd100k(root: str,
                  split: str,
                  num_images: int,
                  style: SceneStyle,
                  size: Tuple[int, int] = (128, 256),
                  seed: int = 0,
                  label_map=None) -> List[str]:
    """Scenes in the BDD100K layout MMSeg reads: ``images/10k/<split>/*.jpg``
    and train-id masks ``labels/sem_seg/masks/<split>/*.png``."""

    def files(index):
        name = f'{seed:04x}{index:08x}-synthetic'
        return [(osp.join(root, 'images', '10k', split,
                          name + '.jpg'), _image),
                (osp.join(root, 'labels', 'sem_seg', 'masks', split,
                          name + '.png'), _mapped(label_map))]

    return write_scenes(num_images, style, size, seed, files)


def write_gta5(root: str,
               num_images: int,
               style: SceneStyle,
               size: Tuple[int, int] = (128, 256),
               seed: int = 0) -> List[str]:
    """Scenes in the GTA5 release layout: ``images/<frame>.png`` and raw
    Cityscapes-id labels ``labels/<frame>.png`` (convert them with
    ``tools/convert_gta5.py``)."""
    ids = cityscapes_id_of_train_id()

    def files(index):
        name = f'{index + 1:05d}.png'
        return [(osp.join(root, 'images', name), _image),
                (osp.join(root, 'labels',
                          name), lambda image, labels: ids[labels])]

    return write_scenes(num_images, style, size, seed, files)


def ade20k_index_of_train_id() -> np.ndarray:
    """Lookup table train id -> ADE20K label value (class index + 1; 0 is
    'other', ignored by ``reduce_zero_label``)."""
    from mmseg.datasets import ADE20KDataset
    classes = ADE20KDataset.METAINFO['classes']
    names = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
             'traffic light', 'signboard', 'tree', 'grass', 'sky', 'person',
             'person', 'car', 'truck', 'bus', None, 'minibike', 'bicycle')
    table = np.zeros(256, np.uint8)
    for train_id, name in enumerate(names):
        if name is not None:
            table[train_id] = classes.index(name) + 1
    return table


def write_ade20k(root: str,
                 split: str,
                 num_images: int,
                 style: SceneStyle,
                 size: Tuple[int, int] = (128, 256),
                 seed: int = 0) -> List[str]:
    """Scenes in the ADEChallengeData2016 layout:
    ``images/<training|validation>/*.jpg`` and 150-class annotations
    ``annotations/<...>/*.png`` (0 = other)."""
    table = ade20k_index_of_train_id()
    folder = dict(train='training', val='validation').get(split, split)

    def files(index):
        name = f'ADE_{folder}_{seed:04d}{index:04d}'
        return [(osp.join(root, 'images', folder, name + '.jpg'), _image),
                (osp.join(root, 'annotations', folder,
                          name + '.png'), lambda image, labels: table[labels])]

    return write_scenes(num_images, style, size, seed, files)


__all__ = [
    'write_scenes', 'write_cityscapes', 'write_bdd100k', 'write_gta5',
    'write_ade20k', 'save_image', 'cityscapes_id_of_train_id',
    'ade20k_index_of_train_id'
]
