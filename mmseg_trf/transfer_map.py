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
import contextlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import List, Optional, Sequence, Tuple

import numpy as np
import ot
import torch

from .grid_store import GridStore
from .metrics._inputs import conditional_entropy_score, softmax
from .metrics.leep import conditional_from_joint
from .metrics.logme import logme_from_moments
from .metrics.optimal_transport import network_simplex

MAP_METRICS = ('otce', 'leep', 'logme')
#: Pixel data per band of a map computed from disk (all images, both sides;
#: the metrics' float64 intermediates take several times this).
BAND_BYTES = 16 << 20
#: Gram elements per batch of LogME patches (float64: 256 MB).
GRAM_ELEMENTS = 1 << 25


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
    """OTCE of one patch: ``-H(Y_t given Y_s)`` under the exact OT coupling
    (POT's network simplex, ``ot.emd``, run to optimality).

    On patches of trained-model logits (320 pixels per side) this takes
    8-9 ms; SciPy's ``linear_sum_assignment``, exact too when both sides
    have as many pixels, took 15-18 ms there (duplicate pixels make it
    slow), though it wins on Gaussian blobs: ``benchmarks/
    bench_seed_scale.py`` measures on real features.

    Args:
        xs (ndarray): ``(n, d)`` source pixel features.
        ys (ndarray): ``(n,)`` source labels (non-negative ints).
        xt (ndarray): ``(m, d)`` target pixel features.
        yt (ndarray): ``(m,)`` target labels.

    Returns:
        float: The patch's OTCE.
    """
    cost = ot.dist(
        np.asarray(xs, np.float64), np.asarray(xt, np.float64), 'sqeuclidean')
    plan, _ = network_simplex(
        np.full(len(xs), 1.0 / len(xs)), np.full(len(xt), 1.0 / len(xt)), cost)
    rows, cols = np.nonzero(plan)
    joint = np.zeros((int(ys.max()) + 1, int(yt.max()) + 1))
    np.add.at(joint, (ys[rows], yt[cols]), plan[rows, cols])
    return conditional_entropy_score(torch.from_numpy(joint))


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

    :func:`streamed_transferability_map` computes the same map from grids
    kept on disk, a band at a time.

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


def map_bands(map_shape: Tuple[int, int],
              patch: int,
              pixel_bytes: int,
              num_images: int,
              max_bytes: Optional[int] = None,
              min_bands: int = 1) -> List[Tuple[int, int]]:
    """Split the grid's whole patch rows into bands of at most ``max_bytes``
    of pixel data (at least one patch row each).

    Args:
        map_shape (tuple): ``(H, W)`` of the grid.
        patch (int): Patch side.
        pixel_bytes (int): Bytes per pixel of all images' values together
            divided by ``num_images`` (e.g. target plus source features).
        num_images (int): Images per side.
        max_bytes (int, optional): Budget per band (:data:`BAND_BYTES`).
        min_bands (int): Cut at least this many bands where there are
            enough patch rows (work to share among processes).

    Returns:
        list[tuple]: ``(start, stop)`` grid rows, multiples of ``patch``.
    """
    height, width = map_shape
    if patch < 1:
        raise ValueError(f'patch size must be a positive integer, got {patch}')
    patch_rows = height // patch
    if patch_rows == 0 or width // patch == 0:
        raise ValueError(f'map {height}x{width} is smaller than one '
                         f'{patch}x{patch} patch')
    row_bytes = patch * width * pixel_bytes * num_images
    per_band = int(
        min(-(-patch_rows // min_bands),
            max(1, (max_bytes or BAND_BYTES) // row_bytes)))
    return [(start * patch, min(start + per_band, patch_rows) * patch)
            for start in range(0, patch_rows, per_band)]


def store_bands(target: GridStore,
                source: Optional[GridStore],
                patch: int,
                min_bands: int = 1) -> List[Tuple[int, int]]:
    """:func:`map_bands` of the grids in these stores (target and, for
    OTCE, source values read together)."""
    width = target.shape[2]
    pixel_bytes = sum(s.row_bytes // width for s in (target, source)
                      if s is not None)
    return map_bands(
        target.shape[1:3],
        patch,
        pixel_bytes,
        target.shape[0],
        min_bands=min_bands)


def _band_scores(job: tuple) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`patch_scores` of one band, read from its stores."""
    metric, (start, stop), stores, patch, ignore_index, min_pixels = job
    target, target_labels, source, source_labels = (
        None if store is None else store.read_rows(start, stop)
        for store in stores)
    return patch_scores(metric, target, target_labels, patch, ignore_index,
                        min_pixels, source, source_labels)


def _single_threaded() -> None:
    """Map workers run one thread each (numbers of workers = cores)."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    torch.set_num_threads(1)


def banded_patch_scores(metric: str,
                        target: GridStore,
                        target_labels: GridStore,
                        bands: Sequence[Tuple[int, int]],
                        patch: int = 4,
                        ignore_index: int = 255,
                        min_pixels: int = 5,
                        source: Optional[GridStore] = None,
                        source_labels: Optional[GridStore] = None,
                        workers: int = 1,
                        progress=None) -> List[Tuple[np.ndarray, np.ndarray]]:
    """:func:`patch_scores` of some bands of grids kept on disk.

    Only one band per worker is in memory at a time. With ``workers > 1``
    the bands are scored by that many processes (each opens the stores
    itself), the way to use every core for OTCE, whose per-patch solves are
    single-threaded.

    Args:
        metric (str): ``'otce'``, ``'leep'`` or ``'logme'``.
        target (GridStore): Target values (features; logits for LEEP).
        target_labels (GridStore): Target labels.
        bands (Sequence[tuple]): ``(start, stop)`` grid rows
            (:func:`map_bands`).
        patch (int): Patch side.
        ignore_index (int): Unlabelled value.
        min_pixels (int): Fewest labelled pixels per patch.
        source (GridStore, optional): Source features (OTCE).
        source_labels (GridStore, optional): Source labels (OTCE).
        workers (int): Processes.
        progress (callable, optional): Called with each band's patch count.

    Returns:
        list[tuple]: Per band, its scores and labelled-pixel counts.
    """
    if metric == 'otce' and (source is None or source_labels is None):
        raise ValueError('an OTCE map needs source features and labels')
    stores = (target, target_labels, source, source_labels)
    jobs = [(metric, band, stores, patch, ignore_index, min_pixels)
            for band in bands]
    results = []
    with contextlib.ExitStack() as stack:
        run = map
        if workers > 1 and len(jobs) > 1:
            run = stack.enter_context(
                ProcessPoolExecutor(
                    min(workers, len(jobs)),
                    mp_context=multiprocessing.get_context('fork'),
                    initializer=_single_threaded)).map
        for scores, counts in run(_band_scores, jobs):
            results.append((scores, counts))
            if progress is not None:
                progress(len(scores))
    return results


def assemble_map(results: Sequence[Tuple[np.ndarray, np.ndarray]],
                 map_shape: Tuple[int, int], patch: int,
                 min_pixels: int) -> np.ndarray:
    """The filled map (eq. 3) from every band's scores, in band order."""
    scores = np.concatenate([r[0] for r in results])
    counts = np.concatenate([r[1] for r in results])
    return fill_sparse(scores, counts,
                       min_pixels).reshape(map_shape[0] // patch,
                                           map_shape[1] // patch)


def streamed_transferability_map(metric: str,
                                 target: GridStore,
                                 target_labels: GridStore,
                                 patch: int = 4,
                                 ignore_index: int = 255,
                                 min_pixels: int = 5,
                                 source: Optional[GridStore] = None,
                                 source_labels: Optional[GridStore] = None,
                                 workers: int = 1,
                                 progress=None) -> np.ndarray:
    """The map of :func:`transferability_map`, from grids kept on disk and
    scored a band at a time (see :func:`banded_patch_scores`).

    Returns:
        ndarray: ``(H // patch, W // patch)`` map, sparse patches filled.
    """
    map_shape = target_labels.shape[1:3]
    bands = store_bands(target, source, patch)
    results = banded_patch_scores(metric, target, target_labels, bands, patch,
                                  ignore_index, min_pixels, source,
                                  source_labels, workers, progress)
    return assemble_map(results, map_shape, patch, min_pixels)


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


#: Controls that keep the weights' distribution or level but drop where
#: they are (see :func:`control_weights`).
CONTROLS = ('shuffled', 'uniform')


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
    'CONTROLS', 'control_weights', 'class_balanced_weights', 'MAP_METRICS',
    'patch_pixels', 'leep_patches', 'logme_patches', 'patch_otce',
    'otce_patches', 'fill_sparse', 'patch_scores', 'transferability_map',
    'map_bands', 'store_bands', 'banded_patch_scores', 'assemble_map',
    'streamed_transferability_map', 'weight_map', 'weights_at'
]
