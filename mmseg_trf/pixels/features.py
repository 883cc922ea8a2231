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
from .taps import ConvSegTap, classifier_head


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


class ImageTaps:
    """The classifier's input and output maps of one image's forward pass,
    and where its label pixels fall on them.

    Args:
        pre_logits (Tensor): ``(C, h, w)`` classifier input.
        logits (Tensor): ``(K, h, w)`` classifier output.
        img_shape (tuple): The resized image's ``(h, w)`` in the input.
        input_shape (tuple): The (padded) input tensor's ``(H, W)``.
        align_corners (bool): The head's convention.
    """

    def __init__(self, pre_logits, logits, img_shape, input_shape,
                 align_corners: bool) -> None:
        self.maps = dict(pre_logits=pre_logits, logits=logits)
        self.img_shape, self.input_shape = img_shape, input_shape
        self.align_corners = align_corners

    def sample(self, layer: str, rows: np.ndarray, cols: np.ndarray,
               label_shape) -> np.ndarray:
        """``(P, C)`` values of ``layer`` at label pixels (the pairing rule
        of the module docstring)."""
        values = self.maps[layer]
        grid = feature_grid(rows, cols, label_shape, self.img_shape,
                            self.input_shape, values.shape[-2:],
                            self.align_corners)
        return sample_map(values, grid)


def forward_images(model: nn.Module,
                   dataset,
                   images: Sequence[int],
                   batch_size: int = 1,
                   desc: str = 'features'):
    """Yield ``(image, ImageTaps)`` for this rank's share of ``images``,
    one forward pass per image, with a progress bar.

    Args:
        model (nn.Module): Segmentor in eval mode.
        dataset: The dataset the images come from.
        images (Sequence[int]): Image indices (all ranks).
        batch_size (int): Images per forward pass.
        desc (str): Progress bar label.
    """
    mine = rank_share(images)
    bar = ProgressBar(len(mine)) if mine else None
    for start in range(0, len(mine), batch_size):
        batch = mine[start:start + batch_size]
        pre, logits, input_shape, samples, align = forward_taps(
            model, [load_item(dataset, i) for i in batch])
        for b, index in enumerate(batch):
            yield index, ImageTaps(pre[b], logits[b],
                                   samples[b].metainfo['img_shape'],
                                   input_shape, align)
            bar.update()
    if bar is not None:
        print(f' {desc} done', flush=True)


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
    for index, taps in forward_images(model, dataset, images, batch_size,
                                      desc):
        key, rows, cols = positions(index)
        for s in range(0, len(key), chunk):
            yield (index, key[s:s + chunk]) + tuple(
                taps.sample(name, rows[s:s + chunk], cols[s:s + chunk],
                            label_shapes[index]) if name in layers else None
                for name in ('pre_logits', 'logits'))


def pool_samples(taps: ImageTaps, index: int, pool: PixelPool) -> tuple:
    """``(key, pre_logits, logits)`` of one image's pool positions."""
    key, rows, cols = pool.positions_of(index)
    return (key, ) + tuple(
        taps.sample(layer, rows, cols, pool.shapes[index])
        for layer in ('pre_logits', 'logits'))


def pool_arrays(parts: list, pool: PixelPool) -> Dict[str, np.ndarray]:
    """Every rank's :func:`pool_samples` gathered into pool-ordered arrays:
    ``pre_logits`` ``(P, C)`` and ``logits`` ``(P, K)`` float32."""
    parts = [part for rank in all_gather_object(parts) for part in rank]
    pre_logits = np.zeros((len(pool), parts[0][1].shape[1]), np.float32)
    logits = np.zeros((len(pool), parts[0][2].shape[1]), np.float32)
    for key, pre, logit in parts:
        pre_logits[key], logits[key] = pre, logit
    return dict(pre_logits=pre_logits, logits=logits)


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
    parts = [
        pool_samples(taps, index, pool) for index, taps in forward_images(
            model, dataset, np.unique(pool.image), batch_size)
    ]
    return pool_arrays(parts, pool)


__all__ = [
    'build_dataset', 'load_item', 'read_label_maps', 'feature_grid',
    'sample_map', 'forward_taps', 'rank_share', 'ImageTaps', 'forward_images',
    'iterate_pixel_features', 'pool_samples', 'pool_arrays', 'extract_pool'
]
