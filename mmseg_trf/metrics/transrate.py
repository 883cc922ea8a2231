"""TransRate: mutual information of features and labels by coding rate."""
import torch

from ._inputs import ArrayLike, labelled_features


def coding_rate(gram: torch.Tensor, n: int, eps: float) -> torch.Tensor:
    """Rate-distortion ``R(Z) = 1/2 logdet(I + Z^T Z / (n eps))``.

    Args:
        gram (Tensor): ``Z^T Z`` of the (globally centred) features, or
            ``Z Z^T`` (the same value); a batch of them gives a batch.
        n (int): Rows of ``Z``.
        eps (float): Distortion.

    Returns:
        Tensor: Scalar coding rate.
    """
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
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
    return float(total - class_coding_rates(z, y, num_classes, eps).mean())


def class_coding_rates(z: torch.Tensor, y: torch.Tensor, num_classes: int,
                       eps: float) -> torch.Tensor:
    """Each class's coding rate ``R(Z_c)``, in time and memory
    proportional to the pixels, however many classes there are.

    Classes of ``n_c < d`` rows use Sylvester's identity ``logdet(I_d +
    Z_c^T Z_c / a) = logdet(I_{n_c} + Z_c Z_c^T / a)``, batched over the
    classes of each size; the at most ``n / d`` larger ones use the
    ``d x d`` Gram.

    Args:
        z (Tensor): ``(n, d)`` centred features.
        y (Tensor): ``(n,)`` compact labels ``0..num_classes - 1``.
        num_classes (int): Classes present.
        eps (float): Distortion.

    Returns:
        Tensor: ``(num_classes,)`` coding rates.
    """
    order = torch.argsort(y, stable=True)
    rows = z[order]
    counts = torch.bincount(y, minlength=num_classes)
    starts = torch.cumsum(counts, 0) - counts
    rates = z.new_empty(num_classes)
    dim = z.shape[1]
    for size in torch.unique(counts).tolist():
        classes = torch.nonzero(counts == size).flatten()
        if size < dim:
            index = starts[classes][:, None] + torch.arange(
                size, device=z.device)
            block = rows[index.flatten()].reshape(len(classes), size, dim)
            gram = block @ block.transpose(1, 2)
            rates[classes] = coding_rate(gram, size, eps)
            continue
        for c in classes.tolist():
            block = rows[starts[c]:starts[c] + size]
            rates[c] = coding_rate(block.T @ block, size, eps)
    return rates


__all__ = ['transrate', 'coding_rate', 'class_coding_rates']
