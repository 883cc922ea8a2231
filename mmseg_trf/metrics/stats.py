"""Sufficient statistics of labelled pixel features.

H-score and LogME need only the per-class counts and sums and the d x d Gram
matrix of the features, so they can be accumulated batch by batch over every
pixel of a dataset in memory independent of the number of pixels.
"""
import copy
from typing import Optional

import torch

from ._inputs import (ArrayLike, LabelRows, as_tensor, check_labels,
                      check_matrix, input_eps, require_finite, require_samples)


class FeatureStats:
    """Per-class counts and sums and the Gram matrix of pixel features.

    The Gram matrix and the sums are taken about a fixed shift (the mean of
    the first batch), which keeps the centred covariance free of the
    cancellation a raw ``X^T X - n mu mu^T`` suffers when features have a
    large mean. Labels may be any non-negative ids; absent ids are ignored.
    """

    def __init__(self) -> None:
        self.shift: Optional[torch.Tensor] = None
        self.gram: Optional[torch.Tensor] = None
        self.sums: Optional[torch.Tensor] = None
        self.counts: Optional[torch.Tensor] = None
        self.rows = LabelRows()
        self.eps = 0.0

    @classmethod
    def from_data(cls, features: ArrayLike,
                  labels: ArrayLike) -> 'FeatureStats':
        """Statistics of one in-memory set of pixels.

        Args:
            features (ndarray | Tensor): ``(n, d)`` features.
            labels (ndarray | Tensor): ``(n,)`` class ids.

        Returns:
            FeatureStats: The accumulated statistics.
        """
        stats = cls()
        stats.update(features, labels)
        return stats

    def update(self, features: ArrayLike, labels: ArrayLike) -> None:
        """Add a batch of pixels.

        Args:
            features (ndarray | Tensor): ``(n, d)`` features.
            labels (ndarray | Tensor): ``(n,)`` class ids.
        """
        raw = as_tensor(features, 'features')
        check_matrix(raw, 'features', min_rows=0)
        y = check_labels(labels, raw.shape[0], device=raw.device)
        if raw.shape[0] == 0:
            return
        if self.shift is not None and raw.shape[1] != self.dim:
            raise ValueError(f'feature dimension changed from {self.dim} to '
                             f'{raw.shape[1]} between batches')
        # One float64 copy, shifted in place: the only pass over the data
        # besides the Gram product and the class sums.
        shifted = raw.to(torch.float64, copy=True)
        shift = shifted.mean(0) if self.shift is None else self.shift
        shifted -= shift
        batch_gram = shifted.T @ shifted
        # A NaN or inf in the batch reaches the shift or the Gram diagonal;
        # a refused batch leaves the statistics as they were.
        require_finite(torch.cat([shift, batch_gram.diagonal()]), 'features')
        if self.shift is None:
            dim = raw.shape[1]
            self.shift = shift
            self.gram = shifted.new_zeros(dim, dim)
            self.sums = shifted.new_zeros(0, dim)
            self.counts = shifted.new_zeros(0)
        self.eps = max(self.eps, input_eps(raw))
        self.gram += batch_gram
        rows, (self.sums,
               self.counts) = self.rows.add(y, [self.sums, self.counts])
        self.sums.index_add_(0, rows, shifted)
        self.counts += torch.bincount(rows, minlength=self.counts.numel())

    def merge(self, other: 'FeatureStats') -> None:
        """Add another accumulator's pixels (e.g. another process's).

        Its Gram matrix and sums are moved from its shift to ours:
        with ``delta = s_other - s``,
        ``sum (x - s)(x - s)^T = G_o + delta S_o^T + S_o delta^T
        + n_o delta delta^T`` and class sums gain ``n_c delta``.

        Args:
            other (FeatureStats): Statistics of disjoint pixels.
        """
        if other.shift is None:
            return
        if self.shift is None:
            self.__dict__.update(copy.deepcopy(other.__dict__))
            return
        if other.dim != self.dim:
            raise ValueError(f'cannot merge dimension {other.dim} into '
                             f'{self.dim}')
        delta = other.shift.to(self.shift) - self.shift
        total = other.sums.sum(0).to(self.shift)
        cross = torch.outer(delta, total)
        self.gram += (
            other.gram.to(self.gram) + cross + cross.T +
            other.n * torch.outer(delta, delta))
        rows, (self.sums, self.counts) = self.rows.add(
            other.rows.ids.to(self.counts.device), [self.sums, self.counts])
        counts = other.counts.to(self.counts)
        self.sums[rows] += other.sums.to(self.sums) + counts[:, None] * delta
        self.counts[rows] += counts
        self.eps = max(self.eps, other.eps)

    @property
    def dim(self) -> int:
        """int: Feature dimension."""
        return self.gram.shape[0]

    @property
    def n(self) -> int:
        """int: Number of pixels seen."""
        return 0 if self.counts is None else int(self.counts.sum())

    def validate(self) -> None:
        """Raise ``ValueError`` unless there are 2 pixels and 2 classes."""
        present = 0 if self.counts is None else int((self.counts > 0).sum())
        require_samples(self.n, present)

    def class_counts(self) -> torch.Tensor:
        """Tensor: ``(C,)`` counts of the classes present."""
        return self.counts[self.counts > 0]

    def centered_gram(self) -> torch.Tensor:
        """Tensor: ``sum_i (x_i - mean)(x_i - mean)^T``."""
        delta = self.sums.sum(0) / self.n
        return self.gram - self.n * torch.outer(delta, delta)

    def class_mean_offsets(self) -> torch.Tensor:
        """Tensor: ``(C, d)`` class means minus the global mean."""
        present = self.counts > 0
        means = self.sums[present] / self.counts[present, None]
        return means - self.sums.sum(0) / self.n

    def raw_gram(self) -> torch.Tensor:
        """Tensor: ``sum_i x_i x_i^T`` of the unshifted features."""
        total = self.sums.sum(0)
        cross = torch.outer(self.shift, total)
        return (self.gram + cross + cross.T +
                self.n * torch.outer(self.shift, self.shift))

    def raw_class_sums(self) -> torch.Tensor:
        """Tensor: ``(C, d)`` per-class sums of the unshifted features."""
        present = self.counts > 0
        return self.sums[present] + self.counts[present, None] * self.shift

    def mean_square_norm(self) -> float:
        """float: ``mean_i ||x_i||^2`` of the unshifted features."""
        return float(torch.trace(self.raw_gram()) / self.n)
