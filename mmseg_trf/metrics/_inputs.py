"""Conversion and validation of the inputs every metric shares.

Metrics accept numpy arrays or torch tensors and compute in float64 on the
device the data lives on. Bad input raises ``ValueError`` naming the problem.
"""
from typing import Sequence, Tuple, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

#: Tolerance on the row sums of probability inputs, relative to 1.
PROB_SUM_TOL = 1e-3


def as_tensor(x: ArrayLike, name: str) -> torch.Tensor:
    """Return ``x`` as a tensor without copying it off its device.

    Args:
        x (ndarray | Tensor): The input.
        name (str): Its name in error messages.

    Returns:
        Tensor: The same data as a torch tensor.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        if not isinstance(x, (np.ndarray, list, tuple)):
            raise ValueError(f'{name} must be a numpy array or a torch '
                             f'tensor, got {type(x).__name__}')
        array = np.asarray(x)
        if array.dtype.kind not in 'biufc':
            raise ValueError(f'{name} must hold numbers, got an array of '
                             f'dtype {array.dtype}')
        t = torch.from_numpy(np.ascontiguousarray(array))
    if t.is_complex():
        raise ValueError(f'{name} is complex ({t.dtype}); the metrics need '
                         'real values (pass .real or .abs() explicitly)')
    if t.device.type == 'meta':
        raise ValueError(f'{name} is a meta tensor, which holds no data '
                         '(materialise the model or tensor first)')
    return t


def input_eps(x: torch.Tensor) -> float:
    """Machine epsilon of the precision the data arrived in.

    Args:
        x (Tensor): The raw input.

    Returns:
        float: ``finfo(dtype).eps`` for floating inputs, float64's otherwise.
    """
    if x.is_floating_point():
        return torch.finfo(x.dtype).eps
    return torch.finfo(torch.float64).eps


def check_matrix(x: torch.Tensor, name: str, min_rows: int = 1) -> None:
    """Raise unless ``x`` is ``(n, d)`` with ``n >= min_rows`` and ``d >= 1``.

    Args:
        x (Tensor): The input.
        name (str): Its name in error messages.
        min_rows (int): Fewest rows accepted.
    """
    if x.ndim != 2:
        raise ValueError(f'{name} must be 2-D (pixels, dims), '
                         f'got shape {tuple(x.shape)}')
    if x.shape[0] < min_rows:
        raise ValueError(f'{name} needs at least {min_rows} pixels, '
                         f'got {x.shape[0]}')
    if x.shape[1] < 1:
        raise ValueError(f'{name} has no feature dimensions')


def check_features(features: ArrayLike,
                   name: str = 'features',
                   min_rows: int = 1) -> torch.Tensor:
    """Validate a feature matrix and return it as float64.

    Args:
        features (ndarray | Tensor): Shape ``(n, d)``.
        name (str): Its name in error messages.
        min_rows (int): Fewest rows accepted.

    Returns:
        Tensor: float64 tensor ``(n, d)`` on the input's device.
    """
    x = as_tensor(features, name)
    check_matrix(x, name, min_rows)
    x = x.to(torch.float64)
    require_finite(x, name)
    return x


def require_finite(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or inf.

    Args:
        x (Tensor): Data, or sums/Gram entries derived from it.
        name (str): The input's name in the message.
    """
    if not torch.isfinite(x).all():
        raise ValueError(f'{name} contains NaN or inf')


def check_labels(labels: ArrayLike,
                 n: int,
                 name: str = 'labels',
                 device: torch.device = None) -> torch.Tensor:
    """Validate integer class labels.

    Args:
        labels (ndarray | Tensor): Shape ``(n,)``, non-negative integers.
        n (int): Expected length (rows of the matching features).
        name (str): Its name in error messages.
        device (torch.device, optional): Move the labels here.

    Returns:
        Tensor: int64 labels.
    """
    y = as_tensor(labels, name)
    if y.ndim != 1:
        raise ValueError(f'{name} must be 1-D, got shape {tuple(y.shape)}')
    if y.shape[0] != n:
        raise ValueError(f'length mismatch: {n} feature rows but '
                         f'{y.shape[0]} {name}')
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f'{name} must be integers, got {y.dtype}')
    y = y.to(torch.int64)
    if device is not None:
        y = y.to(device)
    if n and int(y.min()) < 0:
        raise ValueError(f'{name} must be non-negative (remove ignored '
                         f'pixels first), found {int(y.min())}')
    return y


def require_samples(n: int,
                    num_classes: int,
                    what: str = 'labels',
                    least: int = 2) -> None:
    """Raise unless there are at least ``least`` pixels and classes.

    Args:
        n (int): Number of pixels.
        num_classes (int): Number of distinct classes present.
        what (str): What the classes are of, for the message.
        least (int): Fewest pixels and classes (2 for a score of a model;
            1 for a patch of a transferability map).
    """
    if n < least:
        raise ValueError(f'need at least {least} pixels, got {n}')
    if num_classes < least:
        raise ValueError(f'need at least {least} classes in {what}, got '
                         f'{num_classes}')


class LabelRows:
    """Rows of per-class tables for any non-negative label ids.

    Accumulators keep one row per label id seen, in id order, so memory
    grows with the number of classes present, not with the largest id (a
    stray id of 1e9 costs one row).
    """

    def __init__(self) -> None:
        self.ids = torch.empty(0, dtype=torch.int64)

    def add(self, labels: torch.Tensor,
            tables: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, list]:
        """Rows of ``labels``, growing ``tables`` for ids not seen before.

        Args:
            labels (Tensor): int64 label ids.
            tables (Sequence[Tensor]): Tables with one row per id seen so
                far (in id order).

        Returns:
            tuple: The row of each label and the (grown) tables.
        """
        seen = torch.unique(labels)
        ids = self.ids.to(seen.device)
        new = seen[~torch.isin(seen, ids)]
        tables = list(tables)
        if new.numel():
            ids = torch.cat([ids, new])
            order = torch.argsort(ids)
            tables = [
                torch.cat([t, t.new_zeros((new.numel(), ) + t.shape[1:])
                           ])[order.to(t.device)] for t in tables
            ]
            ids = ids[order]
        self.ids = ids
        return torch.searchsorted(ids, labels), tables


def compact_labels(y: torch.Tensor,
                   name: str = 'labels',
                   least: int = 2) -> Tuple[torch.Tensor, int]:
    """Map the present label ids to ``0..C-1``.

    Args:
        y (Tensor): int64 labels.
        name (str): Its name in error messages.
        least (int): Fewest pixels and classes (:func:`require_samples`).

    Returns:
        tuple[Tensor, int]: Compact labels and the number of classes ``C``.
    """
    classes, inverse = torch.unique(y, return_inverse=True)
    require_samples(y.shape[0], classes.numel(), name, least)
    return inverse, classes.numel()


def labelled_features(
        features: ArrayLike,
        labels: ArrayLike) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """Validate a target set of features and labels for the in-memory metrics.

    Args:
        features (ndarray | Tensor): ``(n, d)`` pixel features.
        labels (ndarray | Tensor): ``(n,)`` class ids.

    Returns:
        tuple: float64 features, compact int64 labels, number of classes.
    """
    x = check_features(features)
    y = check_labels(labels, x.shape[0], device=x.device)
    y, num_classes = compact_labels(y)
    return x, y, num_classes


def check_probs(probs: ArrayLike, name: str = 'probs') -> torch.Tensor:
    """Validate per-pixel class probabilities without copying them.

    Args:
        probs (ndarray | Tensor): ``(n, Z)`` rows on the probability simplex.
        name (str): Its name in error messages.

    Returns:
        Tensor: The probabilities in their own floating dtype (integer
        one-hot input becomes float64).
    """
    p = as_tensor(probs, name)
    check_matrix(p, name)
    if not p.is_floating_point():
        p = p.to(torch.float64)
    low, high = torch.aminmax(p)
    require_finite(torch.stack([low, high]), name)
    if low < 0 or high > 1 + PROB_SUM_TOL:
        raise ValueError(f'{name} must lie in [0, 1]; pass softmax '
                         'probabilities, not logits')
    err = (p.sum(1, dtype=torch.float64) - 1).abs().max()
    if err > PROB_SUM_TOL:
        raise ValueError(f'{name} rows must sum to 1 (largest deviation '
                         f'{float(err):.3g}); pass softmax probabilities')
    return p


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """float64 one-hot matrix of compact labels.

    Args:
        y (Tensor): int64 labels in ``[0, num_classes)``.
        num_classes (int): Number of columns.

    Returns:
        Tensor: ``(n, num_classes)`` float64.
    """
    return torch.nn.functional.one_hot(y, num_classes).to(torch.float64)


def conditional_entropy_score(joint: torch.Tensor) -> float:
    """``-H(B given A)`` of a joint distribution with ``A`` along rows.

    ``sum_ab J[a, b] log(J[a, b] / sum_b' J[a, b'])`` over non-zero entries;
    rows of zero mass contribute nothing (no epsilon is added).

    Args:
        joint (Tensor): Non-negative ``(A, B)`` matrix; normalised here.

    Returns:
        float: The negative conditional entropy (natural log), <= 0.
    """
    joint = joint / joint.sum()
    marginal = joint.sum(1, keepdim=True).expand_as(joint)
    mask = joint > 0
    return float((joint[mask] * torch.log(joint[mask] / marginal[mask])).sum())


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64 (source-class probabilities
    from logits)."""
    z = logits.astype(np.float64)  # the only full-size copy
    z -= z.max(-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(-1, keepdims=True)
    return z
