"""TransRate: mutual information of features and labels by coding rate."""
import torch

from ._inputs import ArrayLike, labelled_features


def coding_rate(gram: torch.Tensor, n: int, eps: float) -> torch.Tensor:
    """Rate-distortion ``R(Z) = 1/2 logdet(I + Z^T Z / (n eps))``.

    Args:
        gram (Tensor): ``Z^T Z`` of the (globally centred) features.
        n (int): Rows of ``Z``.
        eps (float): Distortion.

    Returns:
        Tensor: Scalar coding rate.
    """
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return 0.5 * torch.linalg.slogdet(eye + gram / (n * eps))[1]


def transrate(features: ArrayLike,
              labels: ArrayLike,
              eps: float = 1e-4) -> float:
    """TransRate (Huang, Huang, Bao, et al., ICML 2022, eq. 5).

    ``R(Z) - mean_c R(Z_c)`` on the centred features ``Z``, the mean taken
    over the classes present (the reference code averages over
    ``max(label) + 1`` classes and divides by zero for absent ids).

    Args:
        features (ndarray | Tensor): ``(n, d)`` target pixel features.
        labels (ndarray | Tensor): ``(n,)`` target labels.
        eps (float): Distortion of the coding rate.

    Returns:
        float: TransRate; higher means more transferable.
    """
    x, y, num_classes = labelled_features(features, labels)
    z = x - x.mean(0)
    total = coding_rate(z.T @ z, z.shape[0], eps)
    per_class = torch.stack([
        coding_rate(zc.T @ zc, zc.shape[0], eps)
        for zc in (z[y == c] for c in range(num_classes))
    ])
    return float(total - per_class.mean())


__all__ = ['transrate', 'coding_rate']
