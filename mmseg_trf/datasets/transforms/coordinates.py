"""Carry each pixel's original position through the data pipeline."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

#: float32 holds every integer index exactly up to 2**24 pixels.
MAX_PIXELS = 1 << 24
#: Keys MMCV/MMSeg geometric transforms add (resize, flip, pad, crop bbox).
GEOMETRIC_KEYS = ('scale_factor', 'flip', 'pad_shape', 'crop_bbox')


@TRANSFORMS.register_module()
class AddPixelCoordinates(BaseTransform):
    """Add ``gt_coord_map``: each pixel's flat index in the loaded image.

    Put it right after ``LoadAnnotations``. The map joins ``seg_fields``, so
    every geometric transform that moves the label map (``RandomResize``,
    ``RandomCrop``, ``RandomFlip``, ``RandomRotate``, ``Pad``, ...) moves it
    the same way with nearest interpolation; afterwards pixel ``(y, x)``
    still knows the original pixel ``(idx // W, idx % W)`` it came from,
    with ``W`` the width in ``ori_shape``. Padding fills it with the
    label's pad value, but those pixels are ignored by the loss anyway.

    Placed after a geometric transform it would index the moved image, not
    the loaded one, and applied twice the second map would be flipped back
    by a ``RandomFlip`` that moves only one of them: both are refused.

    Required keys: ``img``, ``ori_shape``. Added keys: ``gt_coord_map``;
    ``seg_fields``.
    """

    def transform(self, results: dict) -> dict:
        """Add the coordinate map.

        Args:
            results (dict): Pipeline results with the loaded image.

        Returns:
            dict: The results with ``gt_coord_map`` (float32, exact).
        """
        if 'gt_coord_map' in results:
            raise ValueError('AddPixelCoordinates is in the pipeline twice '
                             '(the results already carry gt_coord_map); '
                             'keep one, right after LoadAnnotations')
        height, width = results['img'].shape[:2]
        moved = [key for key in GEOMETRIC_KEYS if key in results]
        if moved or (height, width) != tuple(results['ori_shape'][:2]):
            raise ValueError(
                'AddPixelCoordinates must come right after LoadAnnotations, '
                'before any transform that moves pixels: the image is '
                f'{height}x{width}, loaded {tuple(results["ori_shape"][:2])}'
                f', and {moved} are set; the weights would be read at the '
                'wrong pixels')
        if height * width > MAX_PIXELS:
            raise ValueError(f'{height}x{width} images exceed the '
                             f'{MAX_PIXELS} pixels a float32 index holds')
        results['gt_coord_map'] = np.arange(
            height * width, dtype=np.float32).reshape(height, width)
        results.setdefault('seg_fields', []).append('gt_coord_map')
        return results


@TRANSFORMS.register_module()
class PackTrfInputs(PackSegInputs):
    """``PackSegInputs`` that also packs ``gt_coord_map``.

    The coordinate map becomes ``data_sample.gt_coord_map`` (``PixelData``,
    int64), next to ``gt_sem_seg``, the way MMSeg packs its own extra maps.
    Arguments are those of ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        """Pack inputs, labels and coordinates.

        Args:
            results (dict): Pipeline results.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        packed = super().transform(results)
        if 'gt_coord_map' in results:
            coords = torch.from_numpy(results['gt_coord_map'].astype(
                np.int64)[None])
            packed['data_samples'].set_data(
                dict(gt_coord_map=PixelData(data=coords)))
        return packed


def original_positions(sample) -> tuple:
    """Where each pixel of a packed sample was in its loaded image.

    Args:
        sample (SegDataSample): Packed by :class:`PackTrfInputs` from a
            pipeline with :class:`AddPixelCoordinates`.

    Returns:
        tuple: ``(rows, cols, ori_shape)``; rows and columns shaped as the
        sample's label map.
    """
    if 'gt_coord_map' not in sample:
        raise RuntimeError('the train pipeline must carry pixel coordinates '
                           'for the weighted loss: add AddPixelCoordinates '
                           'after LoadAnnotations and use PackTrfInputs')
    coords = sample.gt_coord_map.data[0].numpy()
    shape = sample.metainfo['ori_shape'][:2]
    return coords // shape[1], coords % shape[1], shape


__all__ = ['AddPixelCoordinates', 'PackTrfInputs', 'original_positions']
