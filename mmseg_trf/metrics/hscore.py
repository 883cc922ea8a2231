"""H-score and its shrinkage-regularised form."""
from typing import Tuple

import torch

from ._inputs import ArrayLike, labelled_features
from .stats import FeatureStats

#: Eigenvalues of the feature covariance below this fraction of the largest
#: are treated as zero: the smallest of the three cut-offs in Bao et al.'s
#: scripts. The seed authors' H-score pipeline uses ``rcond=1e-5`` on the
#: softmax outputs it scores, which drops an eigenvalue this keeps: their
#: H-score is 2.7% lower on 19-class softmax probabilities.
RELATIVE_RCOND = 1e-10


def spectral_cutoff(evals: torch.Tensor, eps_in: float,
                    square_norm_sum: float) -> float:
    """Smallest scatter eigenvalue that counts as signal.

    Two floors, the larger wins: ``RELATIVE_RCOND`` times the largest
    eigenvalue, and the scatter that rounding the inputs to their own
    precision creates, ``d * eps_in**2 * sum_i ||x_i||^2`` (the eigenvalues
    are of the unnormalised scatter ``sum_i (x_i - mu)(x_i - mu)^T``, so the
    floor sums over pixels too). The second removes
    the exactly singular direction of float32 softmax probabilities (their
    rows sum to 1 only to float32 precision), where a pseudo-inverse with a
    tiny rcond would divide by rounding noise.

    Args:
        evals (Tensor): Eigenvalues of the covariance, ascending.
        eps_in (float): Machine epsilon of the input dtype.
        square_norm_sum (float): ``sum_i ||x_i||^2`` of the raw features.

    Returns:
        float: The cut-off.
    """
    dim = evals.numel()
    return max(RELATIVE_RCOND * float(evals[-1]),
               dim * eps_in**2 * square_norm_sum)


def _covariance_spectrum(
        stats: FeatureStats
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of Cov f and the between-class factor of Cov g.

    Returns:
        tuple: eigenvalues and eigenvectors of ``sum (x - mu)(x - mu)^T``, and
        ``B`` with ``B^T B = sum_c n_c (mu_c - mu)(mu_c - mu)^T``. Both carry
        the same ``(n - 1)`` normaliser, which cancels in the H-score.
    """
    stats.validate()
    evals, evecs = torch.linalg.eigh(stats.centered_gram())
    between = stats.class_mean_offsets() * stats.class_counts().sqrt()[:, None]
    return evals, evecs, between


def hscore_from_stats(stats: FeatureStats) -> float:
    """H-score from accumulated statistics (Bao et al. 2019, eq. 2).

    ``H(f) = tr(pinv(Cov f) Cov g)`` with ``g_i = E[f given y_i]``.

    Args:
        stats (FeatureStats): Statistics of the target pixels.

    Returns:
        float: The H-score, in ``[0, min(d, C - 1)]``.
    """
    evals, evecs, between = _covariance_spectrum(stats)
    keep = evals > spectral_cutoff(evals, stats.eps,
                                   stats.n * stats.mean_square_norm())
    projected = (between @ evecs[:, keep]) / evals[keep].sqrt()
    return float((projected**2).sum())


def hscore(features: ArrayLike, labels: ArrayLike) -> float:
    """H-score of target pixel features (Bao et al., ICIP 2019, eq. 2).

    Pixel-wise adaptation of the ICIP 2023 segmentation paper (its eq. 2):
    each pixel is one sample. Covariances are accumulated in float64 and the
    pseudo-inverse drops the null space (see :func:`spectral_cutoff`), so
    float32 softmax probabilities score like their float64 originals.

    Args:
        features (ndarray | Tensor): ``(n, d)`` target pixel features.
        labels (ndarray | Tensor): ``(n,)`` target labels.

    Returns:
        float: The H-score; higher means more transferable.
    """
    return hscore_from_stats(FeatureStats.from_data(features, labels))


def ledoit_wolf_shrinkage(centered: torch.Tensor) -> float:
    """Ledoit-Wolf shrinkage intensity of centred data (Ledoit & Wolf 2004).

    The same estimate as ``sklearn.covariance.ledoit_wolf_shrinkage`` with the
    covariance ``S = X^T X / n``: ``min(b, d2) / d2`` with
    ``b = (mean_i ||x_i||^4 - ||S||_F^2) / (n d)`` and
    ``d2 = ||S - mu I||_F^2 / d``, ``mu = tr(S) / d``.

    Args:
        centered (Tensor): ``(n, d)`` centred features.

    Returns:
        float: Shrinkage in ``[0, 1]``.
    """
    n, dim = centered.shape
    cov = centered.T @ centered / n
    mu = torch.trace(cov) / dim
    fourth = (centered**2).sum(1).pow(2).mean()
    beta = (fourth - (cov**2).sum()) / (dim * n)
    eye = torch.eye(dim, dtype=cov.dtype, device=cov.device)
    delta = ((cov - mu * eye)**2).sum() / dim
    beta = torch.minimum(beta, delta)
    return 0.0 if float(beta) <= 0 else float(beta / delta)


def regularized_hscore(features: ArrayLike, labels: ArrayLike) -> float:
    """Shrinkage-regularised H-score (Ibrahim, Ponomareva, Mazumder, ECML
    PKDD 2022).

    ``tr(pinv((1 - a) Cov f + a (tr Cov f / d) I) (1 - a) Cov g)`` with ``a``
    the Ledoit-Wolf shrinkage of the features; equals :func:`hscore` when
    ``a = 0``. Deviation from the authors' code: the covariances here share
    one normaliser, theirs differ by ``n / (n - 1)`` (below 0.1% of the
    score at 1,000 pixels or more).

    Args:
        features (ndarray | Tensor): ``(n, d)`` target pixel features.
        labels (ndarray | Tensor): ``(n,)`` target labels.

    Returns:
        float: The regularised H-score; higher means more transferable.
    """
    x, _, _ = labelled_features(features, labels)
    stats = FeatureStats.from_data(features, labels)
    alpha = ledoit_wolf_shrinkage(x - x.mean(0))
    evals, evecs, between = _covariance_spectrum(stats)
    shrunk = (1 - alpha) * evals + alpha * evals.sum() / evals.numel()
    keep = shrunk > spectral_cutoff(shrunk, stats.eps,
                                    stats.n * stats.mean_square_norm())
    projected = (between @ evecs[:, keep]) / shrunk[keep].sqrt()
    return float((1 - alpha) * (projected**2).sum())


__all__ = [
    'hscore', 'hscore_from_stats', 'regularized_hscore',
    'ledoit_wolf_shrinkage', 'spectral_cutoff'
]
