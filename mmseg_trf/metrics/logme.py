"""LogME: the log maximum evidence of a Bayesian linear model on features."""
import math
from typing import Tuple

import numpy as np
import torch

from ._inputs import ArrayLike
from .stats import FeatureStats

#: Upper bound on the precisions, far beyond where the evidence has
#: converged, so diverging ones stay finite.
PRECISION_CAP = 1e150
#: A residual outside the span of the features below this fraction of
#: ``||y||^2`` is rounding noise of an exact fit.
RESIDUAL_RTOL = 1e-10
TINY = np.finfo(np.float64).tiny


class EvidenceProblem:
    """Bayesian linear regressions of one-hot class columns on features.

    Everything is expressed in the eigenbasis of ``F^T F`` (eigenvalues
    ``spectrum``; ``proj = V^T F^T y`` per column). These are d and C x d
    numbers, so the iterations run in numpy on the CPU whatever device the
    features were on. The residual
    ``||y - F m||^2`` is written as the part of ``y`` outside the span of
    ``F`` plus the shrunken part inside, which stays accurate when the fit
    is exact (fewer pixels than dimensions), where the usual
    ``||y||^2 - 2 m^T F^T y + m^T F^T F m`` cancels to rounding noise.

    Args:
        n (int): Number of pixels.
        spectrum (ndarray): ``(d,)`` eigenvalues of ``F^T F``; the null
            space as exact zeros.
        proj (ndarray): ``(C, d)`` ``V^T F^T y``, zero on the null space.
        target_sq (ndarray): ``(C,)`` ``||y||^2``.
    """

    def __init__(self, n: int, spectrum: np.ndarray, proj: np.ndarray,
                 target_sq: np.ndarray) -> None:
        self.n, self.spectrum = n, spectrum
        positive = spectrum > 0
        self.positive = positive.astype(np.float64)
        self.rank = int(positive.sum())
        inverse = np.divide(
            1.0, spectrum, out=np.zeros_like(spectrum), where=positive)
        self.proj_sq = proj**2
        self.explained = self.proj_sq * inverse
        outside = target_sq - self.explained.sum(1)
        self.outside = np.where(outside > RESIDUAL_RTOL * target_sq, outside,
                                0.0)

    def step(self, alpha: np.ndarray,
             beta: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log evidence at ``(alpha, beta)`` and one MacKay update from it.

        Evidence (You et al. 2021, eq. 2): ``L = d/2 log a + n/2 log b
        - 1/2 log|a I + b F^T F| - b/2 ||y - F m||^2 - a/2 m^T m
        - n/2 log 2 pi`` with ``m = b (a I + b F^T F)^-1 F^T y``; the
        determinant runs over all ``d`` eigenvalues, zeros included, so it is
        right when there are fewer pixels than dimensions.
        Update (Alg. 1): ``gamma = sum_i b s_i / (a + b s_i)``,
        ``a <- gamma / m^T m``, ``b <- (n - gamma) / ||y - F m||^2``.

        Args:
            alpha (ndarray): ``(C,)`` prior precisions.
            beta (ndarray): ``(C,)`` noise precisions.

        Returns:
            tuple[ndarray, ndarray, ndarray]: ``(C,)`` log evidence, updated
            ``alpha`` and updated ``beta``.
        """
        denom = alpha[:, None] + beta[:, None] * self.spectrum
        ratio = alpha[:, None] / denom
        mean_sq = beta**2 * (self.proj_sq / denom**2).sum(1)
        residual = self.outside + (self.explained * ratio**2).sum(1)
        evidence = (
            self.spectrum.size / 2 * np.log(alpha) +
            self.n / 2 * np.log(beta) - 0.5 * np.log(denom).sum(1) -
            beta / 2 * residual - alpha / 2 * mean_sq -
            self.n / 2 * math.log(2 * math.pi))
        # gamma = k - sum_{s > 0} a / (a + b s) and n - gamma, written
        # without the cancellation that sends n - gamma below 0 near an
        # exact fit.
        shrinkage = ratio @ self.positive
        new_alpha = (self.rank - shrinkage) / np.maximum(mean_sq, TINY)
        new_beta = (self.n - self.rank + shrinkage) / np.maximum(
            residual, TINY)
        return (evidence,
                np.minimum(np.maximum(new_alpha, TINY), PRECISION_CAP),
                np.minimum(np.maximum(new_beta, TINY), PRECISION_CAP))

    def maximize(self,
                 tol: float = 1e-13,
                 max_iter: int = 100000) -> np.ndarray:
        """Maximum log evidence by MacKay iterations run to convergence.

        Iterates :meth:`step` for all class columns at once until no
        column's evidence changes by more than ``tol`` relative (the
        reference code stops after 11 iterations at 1e-3 on ``alpha/beta``).
        The evidence decides convergence, not the precisions: when the
        supremum lies at ``alpha -> inf`` (features no better than zero
        weights) or ``beta -> inf`` (an exact fit) the precisions diverge
        while the evidence converges to its limit.

        Args:
            tol (float): Relative tolerance on the evidence.
            max_iter (int): Iteration cap.

        Returns:
            ndarray: ``(C,)`` maximum log evidence per class column.
        """
        alpha = np.ones_like(self.outside)
        beta = np.ones_like(self.outside)
        evidence, alpha, beta = self.step(alpha, beta)
        for _ in range(max_iter):
            new, alpha, beta = self.step(alpha, beta)
            converged = (np.abs(new - evidence) <= tol * np.abs(new)).all()
            evidence = new
            if converged:
                break
        return evidence


def logme_from_stats(stats: FeatureStats) -> float:
    """LogME from accumulated statistics (You et al., ICML 2021, Alg. 1).

    Everything the evidence needs comes from ``F^T F``, ``F^T y`` (the class
    sums) and ``||y||^2`` (the class counts).

    Args:
        stats (FeatureStats): Statistics of the target pixels.

    Returns:
        float: Mean over classes of the maximum log evidence per pixel.
    """
    stats.validate()
    spectrum, basis = torch.linalg.eigh(stats.raw_gram())
    # Directions below the eigen-solver's accuracy are the null space.
    null = spectrum <= spectrum.numel() * torch.finfo(
        spectrum.dtype).eps * spectrum[-1].clamp_min(0)
    proj = (stats.raw_class_sums() @ basis).masked_fill(null, 0.0)
    problem = EvidenceProblem(stats.n,
                              spectrum.masked_fill(null, 0.0).cpu().numpy(),
                              proj.cpu().numpy(),
                              stats.class_counts().cpu().numpy())
    return float(problem.maximize().mean() / stats.n)


def logme(features: ArrayLike, labels: ArrayLike) -> float:
    """LogME of target pixel features (You et al., ICML 2021, eq. 2, Alg. 1).

    Pixel-wise adaptation of the ICIP 2023 segmentation paper (its eq. 2).
    One Bayesian linear regression without bias per one-hot class column,
    evidence maximised to convergence; correct when pixels < dimensions.

    Args:
        features (ndarray | Tensor): ``(n, d)`` target pixel features.
        labels (ndarray | Tensor): ``(n,)`` target labels.

    Returns:
        float: LogME; higher means more transferable.
    """
    return logme_from_stats(FeatureStats.from_data(features, labels))


__all__ = ['logme', 'logme_from_stats', 'EvidenceProblem']
