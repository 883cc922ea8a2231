"""Eq. 4 of the ICIP 2023 segmentation paper (loss weights from the map),
the seed authors' released rule, the controls, and each pixel's weight.
No MMSeg import."""
from typing import Tuple

import numpy as np

from ..checks import check_number


def weight_map(transferability: np.ndarray,
               strength: float = 1.0) -> np.ndarray:
    """Loss weights from transferability (the paper's eq. 4).

    ``w = exp((-t - min(-t)) / (max(-t) - min(-t)))``: weights lie in
    ``[1, e]``, the least transferable location getting ``e``. A
    ``strength`` ``s`` other than 1 maps them affinely onto
    ``[1, 1 + s (e - 1)]`` (``w_s = 1 + s (w - 1)``; ``s = 0`` is
    unweighted). A constant map (no location is harder than another) gives
    weight 1 everywhere instead of dividing by zero.

    Args:
        transferability (ndarray): The map ``t``.
        strength (float): ``s >= 0``; 1 is eq. 4 itself.

    Returns:
        ndarray: Weights, same shape, float32.
    """
    if not strength >= 0:
        raise ValueError(f'strength must be >= 0, got {strength!r}')
    negative = -np.asarray(transferability, np.float64)
    spread = negative.max() - negative.min()
    if not np.isfinite(spread):
        raise ValueError('the transferability map holds NaN or inf')
    if spread == 0:
        return np.ones(negative.shape, np.float32)
    weights = np.exp((negative - negative.min()) / spread)
    return (1 + strength * (weights - 1)).astype(np.float32)


def seed_code_weights(transferability: np.ndarray,
                      strength: float = 1.0) -> np.ndarray:
    """Loss weights as the seed authors' released code makes them.

    ``w = exp(-t)`` per location, without eq. 4's min-max normalisation
    (SegmentationTransferability, ``compute_transferability_map/
    pixelwise_transferability.py``: ``exp(-LEEP(patch))``), so the weights'
    range follows the map's own scale (LEEP and OTCE maps are <= 0, their
    weights >= 1). ``strength`` acts as in :func:`weight_map`:
    ``1 + s (w - 1)``.

    Args:
        transferability (ndarray): The map ``t``.
        strength (float): ``s >= 0``.

    Returns:
        ndarray: Weights, same shape, float32.
    """
    values = np.asarray(transferability, np.float64)
    if not np.isfinite(values).all():
        raise ValueError('the transferability map holds NaN or inf')
    return (1 + strength * (np.exp(-values) - 1)).astype(np.float32)


#: How weights are made from the map: eq. 4 as printed, or the seed
#: authors' released code.
RULES = {'eq4': weight_map, 'seed_code': seed_code_weights}


def image_weights(transferability: np.ndarray,
                  strength: float = 1.0,
                  rule: str = 'eq4') -> np.ndarray:
    """Loss weights of per-image, per-pixel maps, each image normalised
    over its own labelled pixels.

    ``RULES[rule]`` (eq. 4 by default: the image's least transferable
    labelled pixel gets ``e``, its most transferable 1) applied to each
    image's finite values; unlabelled pixels (NaN) get weight 1 (the loss
    ignores them).

    Args:
        transferability (ndarray): ``(N, H, W)`` maps, NaN where unlabelled.
        strength (float): ``s >= 0``.
        rule (str): A key of :data:`RULES`.

    Returns:
        ndarray: ``(N, H, W)`` float32 weights.
    """
    maps = np.asarray(transferability, np.float64)
    if np.isinf(maps).any():
        raise ValueError('the transferability maps hold inf')
    weights = np.ones(maps.shape, np.float32)
    for image, weight in zip(maps, weights):
        labelled = np.isfinite(image)
        if labelled.any():
            weight[labelled] = RULES[rule](image[labelled], strength)
    return weights


#: Controls that keep the weights' distribution or level but drop where
#: they are (see :func:`control_weights`).
CONTROLS = ('shuffled', 'uniform')


def check_variant(strength: float, control, rule: str = 'eq4') -> None:
    """Refuse a weight strength below 0, an unknown control or rule."""
    check_number('strength', strength, 0)
    if control not in (None, ) + CONTROLS:
        raise ValueError(f'control must be one of {CONTROLS} or None, '
                         f'got {control!r}')
    if rule not in RULES:
        raise ValueError(f'rule must be one of {tuple(RULES)}, got {rule!r}')


def control_weights(weights: np.ndarray,
                    control: str,
                    seed: int = 0) -> np.ndarray:
    """A control for a weight map: is it *where* the weights are that helps?

    ``'shuffled'`` permutes the patches' weights at random (exactly the same
    distribution, no transferability information left); ``'uniform'`` puts
    the mean weight everywhere (the same average loss scale).

    Args:
        weights (ndarray): Eq. 4 weights.
        control (str): One of :data:`CONTROLS`.
        seed (int): Seed of the permutation.

    Returns:
        ndarray: The control weights, same shape and dtype.
    """
    if control == 'shuffled':
        flat = np.random.default_rng(seed).permutation(weights.ravel())
        return flat.reshape(weights.shape).astype(weights.dtype)
    if control == 'uniform':
        return np.full_like(weights, weights.mean())
    raise ValueError(f'control must be one of {CONTROLS}, got {control!r}')


def image_control_weights(weights: np.ndarray,
                          labelled: np.ndarray,
                          control: str,
                          seed: int = 0) -> np.ndarray:
    """:func:`control_weights` of per-image maps, image by image.

    ``'shuffled'`` permutes each image's weights among its own labelled
    pixels (each image keeps its weights, not where they are);
    ``'uniform'`` puts each image's mean labelled weight on its labelled
    pixels. Unlabelled pixels keep their weight (1; the loss ignores them).

    Args:
        weights (ndarray): ``(N, H, W)`` per-image weights.
        labelled (ndarray): ``(N, H, W)`` bool, the labelled pixels.
        control (str): One of :data:`CONTROLS`.
        seed (int): Seed of the permutations (image ``i`` uses
            ``seed + i``).

    Returns:
        ndarray: The control weights, same shape and dtype.
    """
    out = weights.copy()
    for index, (image, mask) in enumerate(zip(out, labelled)):
        if mask.any():
            image[mask] = control_weights(image[mask], control, seed + index)
    return out


def class_balanced_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency class weights with mean 1 over present classes
    (class-balanced cross-entropy, a control for weighted finetuning).

    Args:
        counts (ndarray): Pixels per class (0 = absent).

    Returns:
        ndarray: Per-class weights (1 for absent classes).
    """
    counts = np.asarray(counts, np.float64)
    present = counts > 0
    if not present.any():
        raise ValueError('no class has a labelled pixel')
    weights = np.ones_like(counts)
    weights[present] = 1 / counts[present]
    weights[present] /= weights[present].mean()
    return weights


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
    'weight_map', 'seed_code_weights', 'RULES', 'image_weights', 'CONTROLS',
    'check_variant', 'control_weights', 'class_balanced_weights', 'weights_at'
]
