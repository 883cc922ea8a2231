"""Per-location transferability (eq. 3) and loss weights (eq. 4) of the
ICIP 2023 segmentation paper. No MMSeg import.

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

from .metrics._inputs import conditional_entropy_score
from .metrics.leep import conditional_from_joint
from .metrics.logme import logme_from_moments
from .metrics.optimal_transport import dense_emd, plan_label_joint, uniform

MAP_METRICS = ('otce', 'leep', 'logme')


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
                  chunk: int = 4096) -> np.ndarray:
    """LogME of every patch (eq. 3 with Trf = LogME), batched.

    Per patch only ``F^T F``, the class sums and counts are formed, and the
    evidence of all patches is maximised together; patches with fewer
    pixels than dimensions are handled exactly (see
    :class:`~mmseg_trf.metrics.logme.EvidenceProblem`).

    Args:
        features (ndarray): ``(P, M, d)`` pixel features.
        labels (ndarray): ``(P, M)`` labels.
        ignore_index (int): Unlabelled value.
        chunk (int): Patches per batch (bounds memory).

    Returns:
        ndarray: ``(P,)`` LogME (NaN where a patch has no labelled pixel).
    """
    num_classes = int(labels[labels != ignore_index].max()) + 1
    out = np.full(len(features), np.nan)
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


def otce_patches(src_features: np.ndarray,
                 src_labels: np.ndarray,
                 tgt_features: np.ndarray,
                 tgt_labels: np.ndarray,
                 ignore_index: int,
                 min_pixels: int,
                 progress=None) -> np.ndarray:
    """OTCE of every patch (eq. 3 with Trf = OTCE): exact OT between the
    source and target pixels of the same location, ``-H(Y_t given Y_s)``.

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
            xs = torch.from_numpy(src_features[index][src_ok]).double()
            xt = torch.from_numpy(tgt_features[index][tgt_ok]).double()
            plan = dense_emd(xs, xt, uniform(len(xs), xs),
                             uniform(len(xt), xt))
            ys = torch.from_numpy(src_labels[index][src_ok].astype(np.int64))
            yt = torch.from_numpy(tgt_labels[index][tgt_ok].astype(np.int64))
            joint = plan_label_joint(plan, ys,
                                     int(ys.max()) + 1, yt,
                                     int(yt.max()) + 1)
            out[index] = conditional_entropy_score(joint)
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


def transferability_map(metric: str,
                        tgt_features: np.ndarray,
                        tgt_labels: np.ndarray,
                        patch: int = 4,
                        ignore_index: int = 255,
                        min_pixels: int = 5,
                        tgt_probs: Optional[np.ndarray] = None,
                        src_features: Optional[np.ndarray] = None,
                        src_labels: Optional[np.ndarray] = None,
                        progress=None) -> np.ndarray:
    """The patch transferability map ``t`` of eq. 3.

    Args:
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        tgt_features (ndarray): ``(N, H, W, d)`` target pixel features on the
            map grid (OTCE, LogME).
        tgt_labels (ndarray): ``(N, H, W)`` target labels on the map grid.
        patch (int): Patch side in map pixels.
        ignore_index (int): Unlabelled value.
        min_pixels (int): Fewest labelled target pixels per patch.
        tgt_probs (ndarray, optional): ``(N, H, W, Z)`` source-class
            probabilities (LEEP).
        src_features (ndarray, optional): ``(M, H, W, d)`` source features on
            the same grid (OTCE).
        src_labels (ndarray, optional): ``(M, H, W)`` source labels (OTCE).
        progress (callable, optional): Called per patch (OTCE).

    Returns:
        ndarray: ``(H // patch, W // patch)`` map, sparse patches filled.
    """
    height, width = tgt_labels.shape[1:3]
    shape = (height // patch, width // patch)
    labels = patch_pixels(tgt_labels, patch)
    if metric == 'leep':
        scores = leep_patches(
            patch_pixels(tgt_probs, patch), labels, ignore_index)
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
    counts = _valid_counts(labels, ignore_index)
    return fill_sparse(scores, counts, min_pixels).reshape(shape)


def weight_map(transferability: np.ndarray) -> np.ndarray:
    """Loss weights from transferability (the paper's eq. 4).

    ``w = exp((-t - min(-t)) / (max(-t) - min(-t)))``: weights lie in
    ``[1, e]``, the least transferable location getting ``e``. A constant
    map (no location is harder than another) gives weight 1 everywhere
    instead of dividing by zero.

    Args:
        transferability (ndarray): The map ``t``.

    Returns:
        ndarray: Weights, same shape, float32.
    """
    negative = -np.asarray(transferability, np.float64)
    spread = negative.max() - negative.min()
    if not np.isfinite(spread):
        raise ValueError('the transferability map holds NaN or inf')
    if spread == 0:
        return np.ones(negative.shape, np.float32)
    return np.exp((negative - negative.min()) / spread).astype(np.float32)


def weights_at(weights: np.ndarray, patch: int, map_shape: Tuple[int, int],
               rows: np.ndarray, cols: np.ndarray,
               image_shape: Tuple[int, int]) -> np.ndarray:
    """Weight of original-image pixels from the patch weight map.

    A pixel ``(row, col)`` of an image of ``image_shape`` sits at
    ``row * H / h_img`` on the map grid ``(H, W)``; its patch is that
    position divided by ``patch``, clamped to the map.

    Args:
        weights (ndarray): ``(Hp, Wp)`` patch weights.
        patch (int): Patch side on the map grid.
        map_shape (tuple): ``(H, W)`` of the map grid.
        rows, cols (ndarray): Pixel positions in the original image.
        image_shape (tuple): ``(h_img, w_img)`` of the original image.

    Returns:
        ndarray: Weights of those pixels.
    """
    out = []
    for pos, size, grid, limit in zip((rows, cols), image_shape, map_shape,
                                      weights.shape):
        on_grid = (np.asarray(pos, np.float64) + 0.5) * grid / size
        out.append(np.clip((on_grid // patch).astype(np.int64), 0, limit - 1))
    return weights[out[0], out[1]]


__all__ = [
    'MAP_METRICS', 'patch_pixels', 'leep_patches', 'logme_patches',
    'otce_patches', 'fill_sparse', 'transferability_map', 'weight_map',
    'weights_at'
]
