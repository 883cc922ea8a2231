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
    """Bayesian linear regressions of one-hot class columns on features,
    for a batch of independent pixel sets (e.g. the patches of a map).

    Everything is expressed in the eigenbasis of each set's ``F^T F``
    (eigenvalues ``spectrum``; ``proj = V^T F^T y`` per column). These are
    small arrays, so the iterations run in numpy on the CPU whatever device
    the features were on. The residual ``||y - F m||^2`` is written as the
    part of ``y`` outside the span of ``F`` plus the shrunken part inside,
    which stays accurate when the fit is exact (fewer pixels than
    dimensions), where ``||y||^2 - 2 m^T F^T y + m^T F^T F m`` cancels to
    rounding noise.

    Args:
        n (ndarray): ``(B,)`` pixels per set.
        spectrum (ndarray): ``(B, d)`` eigenvalues of ``F^T F``; the null
            space as exact zeros.
        proj (ndarray): ``(B, C, d)`` ``V^T F^T y``, zero on the null space.
        target_sq (ndarray): ``(B, C)`` ``||y||^2``; 0 marks a class absent
            from the set, which is left out.
    """

    def __init__(self, n: np.ndarray, spectrum: np.ndarray, proj: np.ndarray,
                 target_sq: np.ndarray) -> None:
        self.present = target_sq > 0
        # Absent classes get a harmless stand-in problem and are masked.
        target_sq = np.where(self.present, target_sq, 1.0)
        proj = np.where(self.present[..., None], proj, 0.0)
        # One row per (set, class column), so converged columns drop out.
        columns, dim = self.present.size, spectrum.shape[-1]
        self.n = np.repeat(np.asarray(n, np.float64), self.present.shape[1])
        self.spectrum = np.broadcast_to(spectrum[:, None, :],
                                        proj.shape).reshape(columns, dim)
        positive = self.spectrum > 0
        self.positive = positive.astype(np.float64)
        self.rank = positive.sum(-1)
        inverse = np.divide(
            1.0,
            self.spectrum,
            out=np.zeros(self.spectrum.shape),
            where=positive)
        self.proj_sq = proj.reshape(columns, dim)**2
        self.explained = self.proj_sq * inverse
        target_sq = target_sq.reshape(-1)
        outside = target_sq - self.explained.sum(-1)
        self.outside = np.where(outside > RESIDUAL_RTOL * target_sq, outside,
                                0.0)

    def step(
        self, alpha: np.ndarray, beta: np.ndarray, columns=slice(None)
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log evidence at ``(alpha, beta)`` and one MacKay update from it.

        Evidence (You et al. 2021, eq. 2): ``L = d/2 log a + n/2 log b
        - 1/2 log|a I + b F^T F| - b/2 ||y - F m||^2 - a/2 m^T m
        - n/2 log 2 pi`` with ``m = b (a I + b F^T F)^-1 F^T y``; the
        determinant runs over all ``d`` eigenvalues, zeros included, so it is
        right when there are fewer pixels than dimensions.
        Update (Alg. 1): ``gamma = sum_i b s_i / (a + b s_i)``,
        ``a <- gamma / m^T m``, ``b <- (n - gamma) / ||y - F m||^2``.

        Args:
            alpha (ndarray): Prior precisions of the chosen columns.
            beta (ndarray): Noise precisions of the chosen columns.
            columns (slice | ndarray): Which ``(set, class)`` columns, in
                row-major order of ``(B, C)``; all by default.

        Returns:
            tuple[ndarray, ndarray, ndarray]: Log evidence, updated
            ``alpha`` and updated ``beta`` of those columns.
        """
        spectrum, n = self.spectrum[columns], self.n[columns]
        denom = alpha[..., None] + beta[..., None] * spectrum
        ratio = alpha[..., None] / denom
        mean_sq = beta**2 * (self.proj_sq[columns] / denom**2).sum(-1)
        residual = self.outside[columns] + (self.explained[columns] *
                                            ratio**2).sum(-1)
        evidence = (
            spectrum.shape[-1] / 2 * np.log(alpha) + n / 2 * np.log(beta) -
            0.5 * np.log(denom).sum(-1) - beta / 2 * residual -
            alpha / 2 * mean_sq - n / 2 * math.log(2 * math.pi))
        # gamma = sum_{s > 0} b s / (a + b s) and, written without the
        # cancellation that sends it below 0 near an exact fit,
        # n - gamma = n - k + sum_{s > 0} a / (a + b s).
        gamma = (beta[..., None] * spectrum / denom).sum(-1)
        shrinkage = (ratio * self.positive[columns]).sum(-1)
        new_alpha = gamma / np.maximum(mean_sq, TINY)
        new_beta = (n - self.rank[columns] + shrinkage) / np.maximum(
            residual, TINY)
        return (evidence,
                np.minimum(np.maximum(new_alpha, TINY), PRECISION_CAP),
                np.minimum(np.maximum(new_beta, TINY), PRECISION_CAP))

    def maximize(self,
                 tol: float = 1e-13,
                 max_iter: int = 100000) -> np.ndarray:
        """Maximum log evidence by MacKay iterations run to convergence.

        Iterates :meth:`step` for all sets and class columns at once; a
        column whose evidence changes by at most ``tol`` relative is done
        and leaves the batch, and the loop ends when all are (the reference
        code stops after 11 iterations at 1e-3 on ``alpha/beta``). The evidence
        decides convergence, not the precisions: when the supremum lies at
        ``alpha -> inf`` (features no better than zero weights) or
        ``beta -> inf`` (an exact fit) the precisions diverge while the
        evidence converges to its limit, and freezing the column stops them
        before they reach the end of the float range.

        Args:
            tol (float): Relative tolerance on the evidence.
            max_iter (int): Iteration cap.

        Returns:
            ndarray: ``(B, C)`` maximum log evidence (NaN for absent
            classes).
        """
        alpha = np.ones(self.outside.shape)
        beta = np.ones(self.outside.shape)
        evidence = np.full(self.outside.shape, np.nan)
        active = np.flatnonzero(self.present)  # absent classes never step
        evidence[active], alpha[active], beta[active] = self.step(
            alpha[active], beta[active], active)
        for _ in range(max_iter):
            if not active.size:
                break
            new, new_alpha, new_beta = self.step(alpha[active], beta[active],
                                                 active)
            going = ~(np.abs(new - evidence[active]) <= tol * np.abs(new))
            evidence[active] = new
            active, new_alpha, new_beta = (active[going], new_alpha[going],
                                           new_beta[going])
            alpha[active], beta[active] = new_alpha, new_beta
        return evidence.reshape(self.present.shape)


def logme_from_moments(gram: torch.Tensor, class_sums: torch.Tensor,
                       counts: torch.Tensor) -> np.ndarray:
    """LogME of a batch of pixel sets from their moments (You et al. 2021).

    Everything the evidence needs comes from ``F^T F``, ``F^T y`` (the class
    sums) and ``||y||^2`` (the class counts).

    Args:
        gram (Tensor): ``(B, d, d)`` ``F^T F`` of the raw features.
        class_sums (Tensor): ``(B, C, d)`` per-class feature sums.
        counts (Tensor): ``(B, C)`` per-class pixel counts (0 = absent).

    Returns:
        ndarray: ``(B,)`` mean over present classes of the maximum log
        evidence per pixel; NaN for a set whose features are all zero (the
        evidence has no maximum).
    """
    spectrum, basis = torch.linalg.eigh(gram)
    # Directions below the eigen-solver's accuracy are the null space.
    null = spectrum <= spectrum.shape[-1] * torch.finfo(
        spectrum.dtype).eps * spectrum[:, -1:].clamp_min(0)
    zero = (spectrum[:, -1] <= 0).cpu().numpy()
    if zero.any():
        out = np.full(len(zero), np.nan)
        if not zero.all():
            keep = torch.from_numpy(~zero).to(gram.device)
            out[~zero] = logme_from_moments(gram[keep], class_sums[keep],
                                            counts[keep])
        return out
    proj = (class_sums @ basis).masked_fill(null[:, None, :], 0.0)
    n = counts.sum(1)
    problem = EvidenceProblem(n.cpu().numpy(),
                              spectrum.masked_fill(null, 0.0).cpu().numpy(),
                              proj.cpu().numpy(),
                              counts.cpu().numpy())
    evidence = problem.maximize()
    return np.nanmean(evidence, axis=1) / n.cpu().numpy()


def logme_from_stats(stats: FeatureStats) -> float:
    """LogME from accumulated statistics (You et al., ICML 2021, Alg. 1).

    Args:
        stats (FeatureStats): Statistics of the target pixels.

    Returns:
        float: Mean over classes of the maximum log evidence per pixel.
    """
    stats.validate()
    if not stats.raw_gram().abs().max() > 0:
        raise ValueError('LogME is undefined on features that are all zero '
                         '(check the layer the features come from)')
    return float(
        logme_from_moments(stats.raw_gram()[None],
                           stats.raw_class_sums()[None],
                           stats.class_counts()[None])[0])


def logme(features: ArrayLike, labels: ArrayLike) -> float:
    """LogME of target pixel features (You et al., ICML 2021, eq. 2, Alg. 1).

    Pixel-wise adaptation of the ICIP 2023 segmentation paper (its eq. 2).
    One Bayesian linear regression without bias per one-hot class column,
    evidence maximised to convergence; correct when pixels < dimensions.
    The evidence is the exact one; the seed's and thuml's ``_fit_icml``
    add ``epsilon = 1e-5`` inside it (their value is 2.5e-5 relative
    lower at d = 19).

    Args:
        features (ndarray | Tensor): ``(n, d)`` target pixel features.
        labels (ndarray | Tensor): ``(n,)`` target labels.

    Returns:
        float: LogME; higher means more transferable.
    """
    return logme_from_stats(FeatureStats.from_data(features, labels))


__all__ = [
    'logme', 'logme_from_stats', 'logme_from_moments', 'EvidenceProblem'
]
