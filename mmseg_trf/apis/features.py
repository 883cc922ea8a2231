"""Pixel features of MMSeg segmentors at labelled pixels.

Pairing rule: a labelled pixel at ``(row, col)`` of a label map of size
``(h_l, w_l)`` covers the same field of view as the network input image of
size ``img_shape``; its position in input pixels is
``(row + 0.5) * img_h / h_l - 0.5``, and its feature is the decode head's
feature map bilinearly interpolated there with the head's own
``align_corners`` convention, i.e. exactly what
``F.interpolate(feature_map, size=input_size, mode='bilinear')`` gives at
that input pixel, the pairing MMSeg's loss uses between logits and labels.
Features are never resized as whole maps, so memory stays per pixel.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from torch import nn

from ..sampling import PixelPool
from .model import ConvSegTap, classifier_head


def build_dataset(dataset_cfg: dict):
    """Build an MMSeg dataset from its config dict (``mmseg`` scope)."""
    init_default_scope('mmseg')
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(dict(copy.deepcopy(dataset_cfg), lazy_init=True))
    # MMEngine fails on an empty file list with a numpy error; say why.
    if not dataset.load_data_list():
        raise ValueError(f'dataset {dataset_cfg.get("type")} at '
                         f'{dataset_cfg.get("data_root")} '
                         f'{dataset_cfg.get("data_prefix")} has no images')
    dataset.full_init()
    return dataset


class IndexedDataset:
    """Images ``images`` of a dataset as items ``0..len(images)-1``.

    Args:
        dataset: An MMSeg dataset.
        images (Sequence[int]): Its image indices.
    """

    def __init__(self, dataset, images: Sequence[int]) -> None:
        self.dataset, self.images = dataset, list(images)

    def __getitem__(self, index: int):
        return self.dataset[self.images[index]]

    def get_data_info(self, index: int) -> dict:
        return self.dataset.get_data_info(self.images[index])


def load_item(dataset, index: int):
    """``dataset[index]`` through its pipeline; a file that fails to load
    (empty, truncated, not an image) is a ``ValueError`` that names it.

    Args:
        dataset: An MMSeg dataset.
        index (int): The image.

    Returns:
        dict: The pipeline's output.
    """
    try:
        return dataset[index]
    except Exception as err:
        info = dataset.get_data_info(index)
        files = ', '.join(
            str(info[k]) for k in ('img_path', 'seg_map_path') if k in info)
        raise ValueError(f'image {index} ({files}) could not be loaded: '
                         f'{type(err).__name__}: {err}') from err


def _annotation_loader(dataset):
    """The dataset's ``LoadAnnotations`` transform, or MMSeg's default."""
    for transform in dataset.pipeline.transforms:
        if type(transform).__name__ == 'LoadAnnotations':
            return transform
    from mmseg.datasets.transforms import LoadAnnotations
    return LoadAnnotations()


def read_label_maps(dataset,
                    indices: Optional[Sequence[int]] = None
                    ) -> List[np.ndarray]:
    """Label maps at their file resolution, label mapping applied.

    Args:
        dataset: An MMSeg dataset.
        indices (Sequence[int], optional): Which images (default: all).

    Returns:
        list[ndarray]: ``(H, W)`` int64 label maps.
    """
    load = _annotation_loader(dataset)
    indices = range(len(dataset)) if indices is None else indices
    maps = []
    for i in indices:
        info = copy.deepcopy(dataset.get_data_info(i))
        shape = check_label_file(info['seg_map_path'], load.imdecode_backend)
        labels = load(info)['gt_seg_map']
        if labels.ndim == 3:  # equal channels (checked): the first
            labels = labels[..., 0]
        # MMSeg squeezes a map of height or width 1 to fewer dimensions
        maps.append(labels.reshape(shape).astype(np.int64))
    return maps


def check_label_file(path: str, backend: str = 'pillow') -> Tuple[int, int]:
    """Refuse a label file that MMSeg would read into wrong labels: a map
    of several channels that differ (colours, not class ids) and ids above
    255 (MMSeg keeps labels in 8 bits, so 256 would become 0). A map whose
    channels are all equal (an RGB copy of a grey map) is accepted; its
    first channel is used.

    Args:
        path (str): The label file.
        backend (str): Image decoding backend (the loader's).

    Returns:
        tuple: The map's ``(height, width)``.
    """
    import mmcv
    from mmengine import fileio
    try:
        raw = mmcv.imfrombytes(
            fileio.get(path), flag='unchanged', backend=backend)
    except Exception as err:
        raise ValueError(
            f'label file {path}: cannot be read ({err})') from None
    if raw is None:
        raise ValueError(f'label file {path}: cannot be decoded (empty or '
                         'truncated?)')
    if raw.ndim == 3 and not (raw == raw[..., :1]).all():
        raise ValueError(f'label file {path}: shape {raw.shape} with '
                         'channels that differ; a label map is one channel '
                         'of class ids (H, W)')
    if raw.ndim not in (2, 3):
        raise ValueError(f'label file {path}: shape {raw.shape}; a label map '
                         'is (H, W)')
    if raw.size and int(raw.max()) > 255:
        raise ValueError(f'label file {path}: label id {int(raw.max())} does '
                         'not survive MMSeg\'s 8-bit label maps (it would '
                         f'read as {int(raw.max()) % 256}); use ids 0-254 '
                         'and 255 for ignored pixels')
    return raw.shape[:2]


def feature_grid(rows: np.ndarray, cols: np.ndarray, label_shape, img_shape,
                 input_shape, feature_shape,
                 align_corners: bool) -> torch.Tensor:
    """``grid_sample`` coordinates (align_corners=True convention) of
    labelled pixels on a feature map (see the module docstring).

    Args:
        rows, cols (ndarray): Positions in the label map.
        label_shape (tuple): ``(h_l, w_l)`` of the label map.
        img_shape (tuple): ``(h, w)`` of the resized image in the input.
        input_shape (tuple): ``(H, W)`` of the (padded) input tensor.
        feature_shape (tuple): ``(h_f, w_f)`` of the feature map.
        align_corners (bool): The head's convention.

    Returns:
        Tensor: ``(1, 1, P, 2)`` float32 grid of ``(x, y)`` in ``[-1, 1]``.
    """
    coords = []
    for pos, lab, img, inp, feat in zip((rows, cols), label_shape, img_shape,
                                        input_shape, feature_shape):
        p_in = (pos + 0.5) * img / lab - 0.5
        if align_corners:
            p_feat = p_in * (feat - 1) / max(inp - 1, 1)
        else:
            p_feat = (p_in + 0.5) * feat / inp - 0.5
        p_feat = np.clip(p_feat, 0, feat - 1)
        coords.append(2 * p_feat / (feat - 1) - 1 if feat > 1 else 0 * p_feat)
    grid = np.stack([coords[1], coords[0]], -1).astype(np.float32)
    return torch.from_numpy(grid)[None, None]


def sample_map(feature_map: torch.Tensor, grid: torch.Tensor) -> np.ndarray:
    """Bilinear values of a ``(C, h, w)`` map at a grid: ``(P, C)``."""
    values = F.grid_sample(
        feature_map[None].float(),
        grid.to(feature_map.device),
        mode='bilinear',
        align_corners=True)
    return values[0, :, 0].T.cpu().numpy()


def forward_taps(model: nn.Module, samples: list):
    """Run one batch and return the classifier's input and output maps with
    the preprocessed data samples."""
    head = classifier_head(model)
    data = model.data_preprocessor(pseudo_collate(samples), False)
    with torch.no_grad(), ConvSegTap(head) as tap:
        model(data['inputs'], data['data_samples'], mode='tensor')
    return tap.features, tap.logits, data['inputs'].shape[-2:], data[
        'data_samples'], head.align_corners


def rank_share(images: Sequence[int]) -> List[int]:
    """This process's share of ``images`` (every ``world``-th)."""
    rank, world = get_dist_info()
    return list(images)[rank::world]


def iterate_pixel_features(model: nn.Module,
                           dataset,
                           images: Sequence[int],
                           positions,
                           label_shapes,
                           batch_size: int = 1,
                           desc: str = 'features',
                           chunk: int = 1 << 18,
                           layers: Sequence[str] = ('pre_logits', 'logits')):
    """Yield ``(image, key, pre_logits, logits)`` for this rank's images,
    at most ``chunk`` pixels at a time; a layer not in ``layers`` is
    ``None`` (never sampled).

    Args:
        model (nn.Module): Segmentor in eval mode.
        dataset: The dataset the images come from.
        images (Sequence[int]): Image indices (all ranks).
        positions (callable): ``positions(image) -> (key, rows, cols)``.
        label_shapes (Sequence): Label map shape per image index.
        batch_size (int): Images per forward pass.
        desc (str): Progress bar label.
        chunk (int): Most pixels per yielded piece.
        layers (Sequence[str]): Which of the two layers to sample.
    """
    mine = rank_share(images)
    bar = ProgressBar(len(mine)) if mine else None
    for start in range(0, len(mine), batch_size):
        batch = mine[start:start + batch_size]
        feats, logits, input_shape, samples, align = forward_taps(
            model, [load_item(dataset, i) for i in batch])
        maps = dict(pre_logits=feats, logits=logits)
        for b, index in enumerate(batch):
            key, rows, cols = positions(index)
            for s in range(0, len(key), chunk):
                grid = feature_grid(rows[s:s + chunk], cols[s:s + chunk],
                                    label_shapes[index],
                                    samples[b].metainfo['img_shape'],
                                    input_shape, feats.shape[-2:], align)
                yield (index, key[s:s + chunk]) + tuple(
                    sample_map(maps[name][b], grid) if name in layers else None
                    for name in ('pre_logits', 'logits'))
            bar.update()
    if bar is not None:
        print(f' {desc} done', flush=True)


def gathered_pixel_features(*args, **kwargs) -> list:
    """All processes' :func:`iterate_pixel_features` pieces, on every
    process (each runs its share of the images)."""
    parts = list(iterate_pixel_features(*args, **kwargs))
    return [
        part for rank_parts in all_gather_object(parts) for part in rank_parts
    ]


def extract_pool(model: nn.Module,
                 dataset,
                 pool: PixelPool,
                 batch_size: int = 1) -> Dict[str, np.ndarray]:
    """Pre-classifier features and logits at every pool position.

    Under torch.distributed each rank runs its share of the images and the
    results are gathered, so every rank returns the full arrays.

    Args:
        model (nn.Module): Segmentor in eval mode.
        dataset: The dataset the pool was drawn from.
        pool (PixelPool): The positions.
        batch_size (int): Images per forward pass.

    Returns:
        dict: ``pre_logits`` ``(P, C)`` and ``logits`` ``(P, K)`` float32.
    """
    parts = gathered_pixel_features(model, dataset, np.unique(pool.image),
                                    pool.positions_of, pool.shapes, batch_size)
    pre_logits = np.zeros((len(pool), parts[0][2].shape[1]), np.float32)
    logits = np.zeros((len(pool), parts[0][3].shape[1]), np.float32)
    for _, key, pre, logit in parts:
        pre_logits[key], logits[key] = pre, logit
    return dict(pre_logits=pre_logits, logits=logits)


__all__ = [
    'build_dataset', 'IndexedDataset', 'load_item', 'read_label_maps',
    'feature_grid', 'sample_map', 'forward_taps', 'iterate_pixel_features',
    'gathered_pixel_features', 'extract_pool'
]
