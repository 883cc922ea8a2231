"""Write generated scenes in the directory layouts of real datasets.

The files are what the real datasets' MMSeg configs read, so tests and the
demo exercise the real data paths:

* Cityscapes: ``leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_``
  ``leftImg8bit.png`` with ``gtFine/<split>/<city>/..._gtFine_``
  ``labelTrainIds.png`` (and ``_gtFine_labelIds.png``, the raw ids).
"""
import os
import os.path as osp
from typing import Callable, List, Optional, Tuple

import numpy as np
from PIL import Image

from .scenes import IGNORE, SceneStyle, render_scene


def cityscapes_id_of_train_id() -> np.ndarray:
    """Lookup table train id (0-18, 255) -> Cityscapes label id."""
    from cityscapesscripts.helpers.labels import labels
    table = np.zeros(256, np.uint8)  # 255 -> 0, "unlabeled"
    for label in labels:
        if 0 <= label.trainId < 255 and not label.ignoreInEval:
            table[label.trainId] = label.id
    return table


def save_png(path: str, array: np.ndarray) -> None:
    """Write a uint8 image or label map, creating folders."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


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
    """Generate ``num_images`` scenes of one city in the Cityscapes layout.

    Image ``i`` is rendered from ``numpy.random.default_rng([seed, i])``, so
    the same seed always writes the same files.

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
    paths = []
    for index in range(num_images):
        image, labels = render_scene(
            np.random.default_rng([seed, index]), style, size)
        stem = f'{city}_{index:06d}_000019'
        image_path = osp.join(root, 'leftImg8bit', split, city,
                              f'{stem}_leftImg8bit.png')
        gt_dir = osp.join(root, 'gtFine', split, city)
        save_png(image_path, image)
        if label_map is None:
            save_png(
                osp.join(gt_dir, f'{stem}_gtFine_labelIds.png'), ids[labels])
            save_png(
                osp.join(gt_dir, f'{stem}_gtFine_labelTrainIds.png'), labels)
        else:
            save_png(
                osp.join(gt_dir, f'{stem}_gtFine_labelTrainIds.png'),
                label_map(labels).astype(np.uint8))
        paths.append(image_path)
    return paths


__all__ = [
    'write_cityscapes', 'save_png', 'cityscapes_id_of_train_id', 'IGNORE'
]
