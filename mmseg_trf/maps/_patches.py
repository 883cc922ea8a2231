"""Eq. 3 of the ICIP 2023 segmentation paper: transferability per patch.

Pixels live on a common *map grid* ``(H, W)`` shared by all target images
(each image's label map is resampled onto it). The grid is cut into
``patch x patch`` patches (the paper: 4 x 4); patch ``(i, j)`` pools that
location's pixels across all ``N`` target images (and, for OTCE, the same
location of the ``M`` source images) and is scored by one metric. Rows and
columns beyond the last whole patch belong to the nearest patch when the map
is applied to pixels.

Patches with fewer than ``min_pixels`` labelled pixels (the seed code
skips those with fewer than 5) get the mean transferability of the scored
patches: a neutral value, so they neither gain nor lose weight relative to
the bulk of the map.
"""
from typing import Optional, Tuple

import numpy as np
import torch

from ..metrics._inputs import softmax
from ..metrics.leep import conditional_from_joint
from ..metrics.logme import logme_from_moments
from ..metrics.otce import otce

MAP_METRICS = ('otce', 'leep', 'logme')
#: Gram elements per batch of LogME patches (float64: 256 MB).
GRAM_ELEMENTS = 1 << 25


def map_layer(metric: str, layer: str) -> str:
    """The layer a map metric reads: LEEP always uses the logits."""
    return 'logits' if metric == 'leep' else layer


def patch_pixels(values: np.ndarray, patch: int) -> np.ndarray:
    """Group a stack of maps by patch.

    Args:
        values (ndarray): ``(N, H, W, ...)`` per-pixel values.
        patch (int): Patch side.

    Returns:
        ndarray: ``(Hp * Wp, N * patch * patch, ...)`` with
        ``Hp = H // patch``; patches in row-major order.
    """
    n, height, width = values.shape[:3]
    hp, wp = height // patch, width // patch
    if hp == 0 or wp == 0:
        raise ValueError(f'map {height}x{width} is smaller than one '
                         f'{patch}x{patch} patch')
    rest = values.shape[3:]
    cut = values[:, :hp * patch, :wp * patch]
    grouped = cut.reshape((n, hp, patch, wp, patch) + rest)
    grouped = np.moveaxis(grouped, 0, 2)  # (hp, patch, n, wp, patch, ...)
    grouped = np.moveaxis(grouped, 3, 1)  # (hp, wp, patch, n, patch, ...)
    return grouped.reshape((hp * wp, n * patch * patch) + rest)


def _valid_counts(labels: np.ndarray, ignore_index: int) -> np.ndarray:
    return (labels != ignore_index).sum(1)


def _one_hot(labels: np.ndarray, ignore_index: int,
             num_classes: int) -> torch.Tensor:
    """``(P, M, C)`` float64 one-hot with ignored pixels all-zero."""
    y = torch.from_numpy(labels.astype(np.int64))
    valid = y != ignore_index
    onehot = torch.nn.functional.one_hot(
        torch.where(valid, y, 0), num_classes).double()
    return onehot * valid[..., None]


def leep_patches(probs: np.ndarray, labels: np.ndarray,
                 ignore_index: int) -> np.ndarray:
    """LEEP of every patch at once (eq. 3 with Trf = LEEP).

    The map holds LEEP itself (a mean log-likelihood, <= 0), not the
    likelihood ``exp(LEEP)``: eq. 4 normalises the map to its range, so the
    two would give different weights; the seed papers do not say which.

    Args:
        probs (ndarray): ``(P, M, Z)`` source-class probabilities.
        labels (ndarray): ``(P, M)`` labels (``ignore_index`` masked).
        ignore_index (int): Unlabelled value.

    Returns:
        ndarray: ``(P,)`` LEEP (NaN where a patch has no labelled pixel).
    """
    num_classes = int(labels[labels != ignore_index].max()) + 1
    onehot = _one_hot(labels, ignore_index, num_classes)
    p = torch.from_numpy(probs).double()
    joint = onehot.transpose(1, 2) @ p  # (P, C, Z)
    conditional = conditional_from_joint(joint)
    eep = ((onehot @ conditional) * p).sum(-1)  # (P, M)
    valid = onehot.sum(-1) > 0
    log_eep = torch.where(valid, torch.log(eep.clamp_min(1e-300)),
                          torch.zeros_like(eep))
    count = valid.sum(1)
    out = log_eep.sum(1) / count.clamp_min(1)
    return torch.where(count > 0, out, torch.nan).numpy()


def logme_patches(features: np.ndarray,
                  labels: np.ndarray,
                  ignore_index: int,
                  chunk: Optional[int] = None) -> np.ndarray:
    """LogME of every patch (eq. 3 with Trf = LogME), batched.

    Per patch only ``F^T F``, the class sums and counts are formed, and the
    evidence of all patches is maximised together; patches with fewer
    pixels than dimensions are handled exactly (see
    :class:`~mmseg_trf.metrics.logme.EvidenceProblem`).

    Args:
        features (ndarray): ``(P, M, d)`` pixel features.
        labels (ndarray): ``(P, M)`` labels.
        ignore_index (int): Unlabelled value.
        chunk (int, optional): Patches per batch; by default as many as
            keep one batch's ``d x d`` Grams near 256 MB.

    Returns:
        ndarray: ``(P,)`` LogME (NaN where a patch has no labelled pixel).
    """
    num_classes = int(labels[labels != ignore_index].max()) + 1
    out = np.full(len(features), np.nan)
    chunk = chunk or max(1, GRAM_ELEMENTS // features.shape[-1]**2)
    for start in range(0, len(features), chunk):
        part = slice(start, start + chunk)
        onehot = _one_hot(labels[part], ignore_index, num_classes)
        valid = onehot.sum(-1, keepdim=True)
        f = torch.from_numpy(features[part]).double() * valid
        counts = onehot.sum(1)
        scored = counts.sum(1) > 0
        if scored.any():
            out[start:start + len(f)][scored.numpy()] = logme_from_moments(
                (f.transpose(1, 2) @ f)[scored],
                (onehot.transpose(1, 2) @ f)[scored], counts[scored])
    return out


def patch_otce(xs: np.ndarray, ys: np.ndarray, xt: np.ndarray,
               yt: np.ndarray) -> float:
    """OTCE of one patch: the core's :func:`~mmseg_trf.metrics.otce.otce`
    with POT's dense network simplex (``solver='emd'``, run to optimality).

    On patches of trained-model logits (320 pixels per side) the dense
    simplex takes 8-9 ms; SciPy's ``linear_sum_assignment``, exact too when
    both sides have as many pixels, took 15-18 ms there (duplicate pixels
    make it slow): ``benchmarks/bench_seed_scale.py`` measures on real
    features.

    Args:
        xs (ndarray): ``(n, d)`` source pixel features.
        ys (ndarray): ``(n,)`` source labels (non-negative ints).
        xt (ndarray): ``(m, d)`` target pixel features.
        yt (ndarray): ``(m,)`` target labels.

    Returns:
        float: The patch's OTCE.
    """
    return otce(
        np.asarray(xs, np.float64),
        ys,
        np.asarray(xt, np.float64),
        yt,
        solver='emd',
        least=1)


def otce_patches(src_features: np.ndarray,
                 src_labels: np.ndarray,
                 tgt_features: np.ndarray,
                 tgt_labels: np.ndarray,
                 ignore_index: int,
                 min_pixels: int,
                 progress=None) -> np.ndarray:
    """OTCE of every patch (eq. 3 with Trf = OTCE): exact OT between the
    source and target pixels of the same location (:func:`patch_otce`).

    Args:
        src_features (ndarray): ``(P, Ms, d)`` source pixels per patch.
        src_labels (ndarray): ``(P, Ms)``.
        tgt_features (ndarray): ``(P, Mt, d)`` target pixels per patch.
        tgt_labels (ndarray): ``(P, Mt)``.
        ignore_index (int): Unlabelled value.
        min_pixels (int): Fewest labelled pixels per side.
        progress (callable, optional): Called once per patch.

    Returns:
        ndarray: ``(P,)`` OTCE (NaN for sparse patches).
    """
    out = np.full(len(tgt_features), np.nan)
    for index in range(len(tgt_features)):
        src_ok = src_labels[index] != ignore_index
        tgt_ok = tgt_labels[index] != ignore_index
        if min(src_ok.sum(), tgt_ok.sum()) >= min_pixels:
            out[index] = patch_otce(src_features[index][src_ok],
                                    src_labels[index][src_ok].astype(np.int64),
                                    tgt_features[index][tgt_ok],
                                    tgt_labels[index][tgt_ok].astype(np.int64))
        if progress is not None:
            progress()
    return out


def fill_sparse(scores: np.ndarray, counts: np.ndarray,
                min_pixels: int) -> np.ndarray:
    """Give sparse patches (and unscored ones) the mean of the scored.

    Args:
        scores (ndarray): Per-patch transferability (NaN = not scored).
        counts (ndarray): Labelled target pixels per patch.
        min_pixels (int): Fewest labelled pixels for a patch to count.

    Returns:
        ndarray: Scores with the fill applied.
    """
    keep = (counts >= min_pixels) & np.isfinite(scores)
    if not keep.any():
        raise ValueError(f'no patch has {min_pixels} or more labelled '
                         'pixels to score')
    return np.where(keep, scores, scores[keep].mean())


def patch_scores(metric: str,
                 tgt_features: np.ndarray,
                 tgt_labels: np.ndarray,
                 patch: int,
                 ignore_index: int,
                 min_pixels: int,
                 src_features: Optional[np.ndarray] = None,
                 src_labels: Optional[np.ndarray] = None,
                 progress=None) -> Tuple[np.ndarray, np.ndarray]:
    """Eq. 3 on every whole patch of a stack of grids (unfilled).

    Args:
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        tgt_features (ndarray): ``(N, H, W, d)`` target values on the grid:
            features for OTCE and LogME, source-class *logits* for LEEP.
        tgt_labels (ndarray): ``(N, H, W)`` target labels.
        patch (int): Patch side in grid pixels.
        ignore_index (int): Unlabelled value.
        min_pixels (int): Fewest labelled pixels per patch (OTCE, per side).
        src_features (ndarray, optional): ``(M, H, W, d)`` (OTCE).
        src_labels (ndarray, optional): ``(M, H, W)`` (OTCE).
        progress (callable, optional): Called per patch (OTCE).

    Returns:
        tuple: ``(P,)`` scores (NaN where not scored) and ``(P,)`` labelled
        target pixels per patch, patches in row-major order.
    """
    labels = patch_pixels(tgt_labels, patch)
    if metric == 'leep':
        scores = leep_patches(
            softmax(patch_pixels(tgt_features, patch)), labels, ignore_index)
    elif metric == 'logme':
        scores = logme_patches(
            patch_pixels(tgt_features, patch), labels, ignore_index)
    elif metric == 'otce':
        if src_features is None or src_labels is None:
            raise ValueError('an OTCE map needs source features and labels')
        scores = otce_patches(
            patch_pixels(src_features, patch), patch_pixels(src_labels, patch),
            patch_pixels(tgt_features, patch), labels, ignore_index,
            min_pixels, progress)
    else:
        raise ValueError(f'no transferability map for {metric!r}; choose '
                         f'one of {MAP_METRICS}')
    return scores, _valid_counts(labels, ignore_index)


def transferability_map(metric: str,
                        tgt_features: np.ndarray,
                        tgt_labels: np.ndarray,
                        patch: int = 4,
                        ignore_index: int = 255,
                        min_pixels: int = 5,
                        src_features: Optional[np.ndarray] = None,
                        src_labels: Optional[np.ndarray] = None,
                        progress=None) -> np.ndarray:
    """The patch transferability map ``t`` of eq. 3, from grids in memory.

    :class:`~mmseg_trf.maps.builder.MapBuilder` computes the same map from
    grids kept on disk, a band at a time.

    Args:
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        tgt_features (ndarray): ``(N, H, W, d)`` target values on the map
            grid: features (OTCE, LogME) or source-class logits (LEEP).
        tgt_labels (ndarray): ``(N, H, W)`` target labels on the map grid.
        patch (int): Patch side in map pixels.
        ignore_index (int): Unlabelled value.
        min_pixels (int): Fewest labelled target pixels per patch.
        src_features (ndarray, optional): ``(M, H, W, d)`` source features on
            the same grid (OTCE).
        src_labels (ndarray, optional): ``(M, H, W)`` source labels (OTCE).
        progress (callable, optional): Called per patch (OTCE).

    Returns:
        ndarray: ``(H // patch, W // patch)`` map, sparse patches filled.
    """
    height, width = tgt_labels.shape[1:3]
    scores, counts = patch_scores(metric, tgt_features, tgt_labels, patch,
                                  ignore_index, min_pixels, src_features,
                                  src_labels, progress)
    return fill_sparse(scores, counts,
                       min_pixels).reshape(height // patch, width // patch)


__all__ = [
    'MAP_METRICS', 'map_layer', 'patch_pixels', 'leep_patches',
    'logme_patches', 'patch_otce', 'otce_patches', 'fill_sparse',
    'patch_scores', 'transferability_map'
]
