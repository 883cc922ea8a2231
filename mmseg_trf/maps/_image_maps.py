"""Per-image, per-pixel transferability: each labelled pixel's own LEEP
term under the model's prediction on its image, the Transfer Risk Map's
direction (a pixel's risk from the source model's prediction there), as
opposed to eq. 3's patches pooled over all images. No MMSeg import.

``t_i = log sum_z P(y_i given z) p(z given x_i)``, the summand of LEEP
(Nguyen et al. 2020, eq. 2) with ``P(y given z)`` estimated from every
labelled pixel of every target image, so the mean of ``t`` over all
labelled pixels is the model's LEEP on the grid.
"""
from typing import Tuple

import numpy as np
import torch

from ..metrics.leep import (conditional_from_joint, eep_log_likelihood,
                            label_source_joint)
from ._bands import BAND_BYTES, GridStore

#: Label values a grid holds (8-bit label maps).
LABEL_VALUES = 256
LOG_TINY = float(np.log(1e-300))


def _labelled(logits: np.ndarray, labels: np.ndarray,
              ignore_index: int) -> Tuple[torch.Tensor, torch.Tensor, tuple]:
    """Softmax of the labelled pixels, their labels and where they are."""
    where = np.nonzero(labels != ignore_index)
    values = labels[where]
    if values.size and (values.min() < 0 or values.max() >= LABEL_VALUES):
        raise ValueError(f'labels must lie in 0..{LABEL_VALUES - 1} or be '
                         f'{ignore_index}, got {values.min()}..{values.max()}')
    probs = torch.softmax(torch.from_numpy(logits[where]).double(), -1)
    return probs, torch.from_numpy(values.astype(np.int64)), where


def pixel_leep_joint(logits: np.ndarray, labels: np.ndarray,
                     ignore_index: int) -> torch.Tensor:
    """Joint mass ``J[y, z]`` of some pixels (to be summed over all).

    Args:
        logits (ndarray): ``(..., Z)`` logits.
        labels (ndarray): ``(...)`` labels.
        ignore_index (int): Unlabelled value.

    Returns:
        Tensor: ``(256, Z)`` float64 joint of these pixels.
    """
    probs, values, _ = _labelled(logits, labels, ignore_index)
    if not len(values):
        return torch.zeros(LABEL_VALUES, logits.shape[-1], dtype=torch.float64)
    return label_source_joint(probs, values, LABEL_VALUES)


def pixel_leep_terms(logits: np.ndarray, labels: np.ndarray,
                     conditional: torch.Tensor,
                     ignore_index: int) -> np.ndarray:
    """Each labelled pixel's LEEP term (LEEP eq. 2, before the mean).

    Args:
        logits (ndarray): ``(..., Z)`` logits.
        labels (ndarray): ``(...)`` labels.
        conditional (Tensor): ``(256, Z)`` ``P(y given z)`` of all pixels.
        ignore_index (int): Unlabelled value.

    Returns:
        ndarray: ``(...)`` float64 terms (<= 0), NaN where unlabelled.
    """
    probs, values, where = _labelled(logits, labels, ignore_index)
    terms = np.full(labels.shape, np.nan)
    if len(values):
        # a likelihood that underflows counts as 1e-300, as in the patches
        terms[where] = eep_log_likelihood(probs, values,
                                          conditional).clamp_min(LOG_TINY)
    return terms


def image_leep_maps(logits: GridStore, labels: GridStore,
                    ignore_index: int) -> np.ndarray:
    """Per-pixel LEEP terms of every image of grids kept on disk.

    Two passes over bands of rows (one band's logits in memory at a time):
    the joint of all labelled pixels, then each pixel's term.

    Args:
        logits (GridStore): ``(N, H, W, Z)`` logits.
        labels (GridStore): ``(N, H, W)`` labels.
        ignore_index (int): Unlabelled value.

    Returns:
        ndarray: ``(N, H, W)`` float32 terms, NaN where unlabelled.
    """
    height = logits.shape[1]
    rows = max(1, BAND_BYTES // (logits.row_bytes * logits.shape[0]))
    bands = [(start, min(start + rows, height))
             for start in range(0, height, rows)]
    joint = sum(
        pixel_leep_joint(
            logits.read_rows(*band), labels.read_rows(*band), ignore_index)
        for band in bands)
    conditional = conditional_from_joint(joint)
    return np.concatenate([
        pixel_leep_terms(
            logits.read_rows(*band), labels.read_rows(*band), conditional,
            ignore_index) for band in bands
    ], 1).astype(np.float32)


__all__ = [
    'pixel_leep_joint', 'pixel_leep_terms', 'image_leep_maps', 'LABEL_VALUES'
]
