"""LEEP, NCE and N-LEEP: scores built on the expected empirical predictor."""
import numpy as np
import torch

from ._inputs import (ArrayLike, check_labels, check_probs, compact_labels,
                      conditional_entropy_score, labelled_features)


def label_source_joint(probs: torch.Tensor, labels: torch.Tensor,
                       num_classes: int) -> torch.Tensor:
    """Unnormalised joint of target label and source class.

    ``J[y, z] = sum over pixels labelled y of p(z given x)`` (Nguyen et al.
    2020, eq. 1, before division by n).

    Args:
        probs (Tensor): ``(n, Z)`` source-class probabilities.
        labels (Tensor): ``(n,)`` compact target labels.
        num_classes (int): Number of target classes.

    Returns:
        Tensor: ``(num_classes, Z)`` joint mass.
    """
    joint = probs.new_zeros(num_classes, probs.shape[1])
    return joint.index_add_(0, labels, probs)


def conditional_from_joint(joint: torch.Tensor) -> torch.Tensor:
    """``P(y given z)`` from the joint; source classes of zero mass give 0.

    The public LEEP implementations divide by the column sum unguarded and
    return NaN when a source class is never predicted.

    Args:
        joint (Tensor): ``(..., C, Z)`` joint mass (a batch of joints too).

    Returns:
        Tensor: ``(..., C, Z)`` conditional; zero columns stay zero.
    """
    mass = joint.sum(-2, keepdim=True)
    return torch.where(mass > 0,
                       joint / mass.clamp_min(torch.finfo(joint.dtype).tiny),
                       torch.zeros_like(joint))


def eep_log_likelihood(probs: torch.Tensor, labels: torch.Tensor,
                       conditional: torch.Tensor) -> torch.Tensor:
    """Per-pixel ``log sum_z P(y_i given z) p(z given x_i)`` (LEEP eq. 2).

    Args:
        probs (Tensor): ``(n, Z)`` source-class probabilities.
        labels (Tensor): ``(n,)`` compact target labels.
        conditional (Tensor): ``(C, Z)`` ``P(y given z)``.

    Returns:
        Tensor: ``(n,)`` log likelihoods.
    """
    return torch.log((probs * conditional[labels]).sum(1))


def _probs_and_labels(probs: ArrayLike, labels: ArrayLike):
    p = check_probs(probs)
    y = check_labels(labels, p.shape[0], device=p.device)
    y, num_classes = compact_labels(y)
    return p, y, num_classes


def leep(probs: ArrayLike, labels: ArrayLike) -> float:
    """LEEP (Nguyen, Hassner, Seeger, Archambeau, ICML 2020, eq. 2).

    Pixel-wise adaptation of the ICIP 2023 segmentation paper (its eq. 2):
    the source model's softmax at each target pixel is one prediction.
    ``LEEP = mean_i log sum_z P(y_i given z) p(z given x_i)``.

    Args:
        probs (ndarray | Tensor): ``(n, Z)`` source-class probabilities.
        labels (ndarray | Tensor): ``(n,)`` target labels.

    Returns:
        float: LEEP (<= 0); higher means more transferable.
    """
    p, y, num_classes = _probs_and_labels(probs, labels)
    p = p.to(torch.float64)
    conditional = conditional_from_joint(label_source_joint(p, y, num_classes))
    return float(eep_log_likelihood(p, y, conditional).mean())


def nce_joint(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int,
              num_source: int) -> torch.Tensor:
    """Count joint of (target label, predicted source class).

    Args:
        predicted (Tensor): ``(n,)`` argmax source classes.
        labels (Tensor): ``(n,)`` compact target labels.
        num_classes (int): Number of target classes.
        num_source (int): Number of source classes.

    Returns:
        Tensor: ``(num_classes, num_source)`` float64 counts.
    """
    flat = labels * num_source + predicted
    counts = torch.bincount(flat, minlength=num_classes * num_source)
    return counts.reshape(num_classes, num_source).to(torch.float64)


def nce(probs: ArrayLike, labels: ArrayLike) -> float:
    """Negative conditional entropy (Tran, Nguyen, Hassner, ICCV 2019, eq. 1).

    ``NCE = -H(Y given Z)`` with ``Z`` the source model's argmax class at each
    pixel; source classes never predicted are simply absent from the joint.

    Args:
        probs (ndarray | Tensor): ``(n, Z)`` source-class probabilities.
        labels (ndarray | Tensor): ``(n,)`` target labels.

    Returns:
        float: NCE (<= 0); higher means more transferable.
    """
    p, y, num_classes = _probs_and_labels(probs, labels)
    joint = nce_joint(p.argmax(1), y, num_classes, p.shape[1])
    return conditional_entropy_score(joint.T)


def nleep(features: ArrayLike,
          labels: ArrayLike,
          components_per_class: int = 5,
          variance_kept: float = 0.8,
          seed: int = 123) -> float:
    """N-LEEP (Li et al., "Ranking Neural Checkpoints", CVPR 2021, sec. 4).

    LEEP with the source classifier replaced by a Gaussian mixture fitted to
    the PCA-reduced target features (80 % of the variance kept,
    ``components_per_class`` times the number of target classes components).
    Deviation from the authors' code: the mixture's covariance regulariser
    is ``1e-6`` times the data's variance (scale-free), not scikit-learn's
    absolute ``1e-6``. The mixture has local optima: another ``seed`` moves
    N-LEEP by 5-11% on 19-class pixel features, so sources are compared
    under one seed (the default, 123, is the reference code's).

    Args:
        features (ndarray | Tensor): ``(n, d)`` target pixel features.
        labels (ndarray | Tensor): ``(n,)`` target labels.
        components_per_class (int): Mixture components per target class.
        variance_kept (float): Fraction of variance the PCA keeps.
        seed (int): Seed of the PCA and the mixture's initialisation.

    Returns:
        float: N-LEEP (<= 0); higher means more transferable.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    x, y, num_classes = labelled_features(features, labels)
    reduced = PCA(
        n_components=variance_kept, svd_solver='full',
        random_state=seed).fit_transform(x.cpu().numpy())
    components = min(components_per_class * num_classes, x.shape[0] - 1)
    mixture = GaussianMixture(
        n_components=components,
        random_state=seed,
        reg_covar=1e-6 * float(np.var(reduced)))
    posterior = torch.from_numpy(mixture.fit(reduced).predict_proba(reduced))
    y = y.cpu()
    conditional = conditional_from_joint(
        label_source_joint(posterior, y, num_classes))
    return float(eep_log_likelihood(posterior, y, conditional).mean())


__all__ = [
    'leep', 'nce', 'nleep', 'label_source_joint', 'conditional_from_joint',
    'eep_log_likelihood', 'nce_joint'
]
