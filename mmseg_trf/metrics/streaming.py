"""Accumulators that score every pixel of a dataset in bounded memory.

Each keeps only sufficient statistics: ``update(x, labels)`` per batch, then
``compute()``. H-score, LogME and NCE need one pass over the data. LEEP
needs two: its per-pixel likelihood uses ``P(y given z)``, which is only
known once every pixel has been seen, so ``passes == 2`` and the caller
feeds the same batches again after ``next_pass()``.
"""
import copy

import torch

from ._inputs import (ArrayLike, LabelRows, check_labels, check_probs,
                      conditional_entropy_score, require_samples)
from .hscore import hscore_from_stats
from .leep import conditional_from_joint, eep_log_likelihood
from .logme import logme_from_stats
from .stats import FeatureStats


class HScoreAccumulator(FeatureStats):
    """Streaming :func:`~mmseg_trf.metrics.hscore` (one pass)."""

    passes = 1

    def next_pass(self) -> None:
        """No-op: one pass suffices."""

    def compute(self) -> float:
        """float: The H-score of all pixels seen."""
        return hscore_from_stats(self)


class LogMEAccumulator(HScoreAccumulator):
    """Streaming :func:`~mmseg_trf.metrics.logme` (one pass)."""

    def compute(self) -> float:
        """float: LogME of all pixels seen."""
        return logme_from_stats(self)


class _ProbsJointAccumulator:
    """Joint of target label (rows, grown on demand) and source class."""

    def __init__(self) -> None:
        self.joint = None
        self.rows = LabelRows()

    def _checked(self, probs: ArrayLike, labels: ArrayLike):
        p = check_probs(probs)
        y = check_labels(labels, p.shape[0], device=p.device)
        if self.joint is None:
            self.joint = torch.zeros(
                0, p.shape[1], dtype=torch.float64, device=p.device)
        elif p.shape[1] != self.joint.shape[1]:
            raise ValueError(f'number of source classes changed from '
                             f'{self.joint.shape[1]} to {p.shape[1]}')
        rows, (self.joint, ) = self.rows.add(y, [self.joint])
        return p, rows

    def merge_joint(self, other: '_ProbsJointAccumulator') -> None:
        """Add another accumulator's joint (another process's pixels)."""
        if other.joint is None:
            return
        if self.joint is None:
            self.joint = other.joint.clone()
            self.rows = copy.deepcopy(other.rows)
            return
        rows, (self.joint, ) = self.rows.add(
            other.rows.ids.to(self.joint.device), [self.joint])
        self.joint[rows] += other.joint.to(self.joint)

    def _validated_joint(self) -> torch.Tensor:
        if self.joint is None:
            require_samples(0, 0)
        present = self.joint.sum(1) > 0
        require_samples(int(self.pixels), int(present.sum()))
        return self.joint


class NCEAccumulator(_ProbsJointAccumulator):
    """Streaming :func:`~mmseg_trf.metrics.nce` (one pass)."""

    passes = 1

    def update(self, probs: ArrayLike, labels: ArrayLike) -> None:
        """Add a batch of source probabilities and target labels."""
        p, y = self._checked(probs, labels)
        flat = y * p.shape[1] + p.argmax(1)
        self.joint += torch.bincount(
            flat, minlength=self.joint.numel()).reshape(self.joint.shape).to(
                self.joint)

    @property
    def pixels(self) -> float:
        """float: Pixels seen."""
        return 0.0 if self.joint is None else float(self.joint.sum())

    def next_pass(self) -> None:
        """No-op: one pass suffices."""

    def merge(self, other: 'NCEAccumulator') -> None:
        """Add another accumulator's pixels."""
        self.merge_joint(other)

    def compute(self) -> float:
        """float: NCE of all pixels seen."""
        return conditional_entropy_score(self._validated_joint().T)


class LEEPAccumulator(_ProbsJointAccumulator):
    """Streaming :func:`~mmseg_trf.metrics.leep` (two passes).

    Pass 1 accumulates the joint of target label and source class; pass 2,
    after :meth:`next_pass`, sums the per-pixel log likelihood under the
    frozen ``P(y given z)``. Both passes must see the same pixels.
    """

    passes = 2

    def __init__(self) -> None:
        super().__init__()
        self.pixels = 0
        self.conditional = None
        self.log_likelihood = 0.0
        self.second_pass_pixels = 0

    def update(self, probs: ArrayLike, labels: ArrayLike) -> None:
        """Add a batch of source probabilities and target labels."""
        if self.conditional is None:
            p, y = self._checked(probs, labels)
            self.joint.index_add_(0, y, p.to(torch.float64))
            self.pixels += len(y)
            return
        p = check_probs(probs).to(torch.float64)
        y = check_labels(labels, p.shape[0], device=p.device)
        ids = self.rows.ids.to(y.device)
        if not torch.isin(y, ids).all():
            raise ValueError('pass 2 saw a label absent from pass 1')
        self.log_likelihood += float(
            eep_log_likelihood(p, torch.searchsorted(ids, y),
                               self.conditional).sum())
        self.second_pass_pixels += len(y)

    def merge(self, other: 'LEEPAccumulator') -> None:
        """Add another accumulator's pixels of the current pass.

        In pass 1 the joints add up; in pass 2 (both already past
        :meth:`next_pass` on the merged joint) the likelihoods do.
        """
        if self.conditional is None:
            self.merge_joint(other)
            self.pixels += other.pixels
        else:
            self.log_likelihood += other.log_likelihood
            self.second_pass_pixels += other.second_pass_pixels

    def next_pass(self) -> None:
        """Freeze ``P(y given z)`` and start the likelihood pass."""
        self.conditional = conditional_from_joint(self._validated_joint())

    def compute(self) -> float:
        """float: LEEP of all pixels seen."""
        if self.conditional is None:
            raise ValueError('LEEP needs two passes: feed every batch, call '
                             'next_pass(), feed them again, then compute()')
        if self.second_pass_pixels != self.pixels:
            raise ValueError(f'LEEP needs two passes over the same pixels: '
                             f'pass 1 saw {self.pixels}, pass 2 saw '
                             f'{self.second_pass_pixels}')
        return self.log_likelihood / self.pixels


__all__ = [
    'HScoreAccumulator', 'LogMEAccumulator', 'LEEPAccumulator',
    'NCEAccumulator'
]
