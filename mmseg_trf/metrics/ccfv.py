"""CC-FV: class consistency and feature variety (Yang et al., MICCAI 2023,
"Pick the Best Pre-trained Model: Towards Transferability Estimation for
Medical Image Segmentation").

A segmentation-specific, source-free estimator on the target's pixel
features, grouped by the image they come from:

* **class consistency**: for each class ``c`` and each pair of images
  ``(i, j)`` that both contain it, the 2-Wasserstein distance between
  Gaussians fitted to the class-``c`` features of image ``i`` and of image
  ``j``; averaged over the pairs, then over the classes (a good model maps
  a class to the same distribution in every image: small is good);
* **feature variety**: each image's mean feature ``g_i``; the mean over
  image pairs of ``1 / sqrt(||g_i - g_j||^2 + eps)``, a potential energy of
  the image features;
* ``CC-FV = log(variety / consistency)``.

This follows the authors' released code (``utils/ccfv.py`` and ``main.py``
of EndoluminalSurgicalVision-IMR/CCFV), with three deliberate differences:
their class loop adds the running sum to a scaled copy of itself
(``w += w / (n^2 / 2) / C``) where the definition is a mean over pairs and
classes, which is what is computed here; they skip label 0 (background in
their medical tasks), while every class counts here (Cityscapes has no
background class); and the Gaussian distance is computed from the samples'
cross products (exact, see :func:`gaussian_wasserstein`) instead of
``sqrtm`` of a non-symmetric ``d x d`` product.
"""
from itertools import combinations
from typing import Dict

import numpy as np

from ._inputs import check_labels, labelled_features


def gaussian_wasserstein(xa: np.ndarray, xb: np.ndarray) -> float:
    """2-Wasserstein distance between the Gaussians fitted to two samples
    (means and ``ddof=1`` covariances ``A``, ``B``):

    ``W^2 = ||m_a - m_b||^2 + tr A + tr B - 2 tr (A^1/2 B A^1/2)^1/2``.

    With centred samples ``Xa`` (``n_a x d``) and ``Xb``, ``A B`` has the
    non-zero eigenvalues of ``M M^T``, ``M = Xa Xb^T / sqrt((n_a - 1)
    (n_b - 1))``, so the last trace is the nuclear norm of ``M``: an
    ``n_a x n_b`` singular value problem instead of a ``d x d`` square root
    (pixel groups are small, features up to 512-d).

    Args:
        xa (ndarray): ``(n_a, d)`` samples, ``n_a >= 2``.
        xb (ndarray): ``(n_b, d)`` samples, ``n_b >= 2``.

    Returns:
        float: The distance.
    """
    xa, xb = np.asarray(xa, np.float64), np.asarray(xb, np.float64)
    mean_a, mean_b = xa.mean(0), xb.mean(0)
    ca, cb = xa - mean_a, xb - mean_b
    scale_a, scale_b = len(xa) - 1, len(xb) - 1
    cross = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    squared = (
        np.sum((mean_a - mean_b)**2) + np.sum(ca**2) / scale_a +
        np.sum(cb**2) / scale_b - 2 * cross / np.sqrt(scale_a * scale_b))
    return float(np.sqrt(max(squared, 0.0)))


def _groups(labels: np.ndarray, images: np.ndarray,
            min_pixels: int) -> Dict[int, Dict[int, np.ndarray]]:
    """class -> image -> indices of its pixels (groups of ``min_pixels``
    or more)."""
    groups: Dict[int, Dict[int, np.ndarray]] = {}
    order = np.lexsort((images, labels))
    keys = np.stack([labels[order], images[order]], 1)
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], 1)])
    for start, stop in zip(starts, np.r_[starts[1:], len(order)]):
        if stop - start >= min_pixels:
            label, image = keys[start]
            groups.setdefault(int(label), {})[int(image)] = order[start:stop]
    return groups


def class_consistency(features: np.ndarray,
                      labels: np.ndarray,
                      images: np.ndarray,
                      min_pixels: int = 2) -> float:
    """Mean over classes of the mean 2-Wasserstein distance between the
    class's per-image Gaussians, over pairs of images (CC-FV's class
    consistency; small is consistent).

    Args:
        features (ndarray): ``(n, d)`` pixel features.
        labels (ndarray): ``(n,)`` class ids.
        images (ndarray): ``(n,)`` the image of each pixel.
        min_pixels (int): A class counts in an image from this many pixels
            (a covariance needs two).

    Returns:
        float: The consistency distance.
    """
    per_class = []
    for by_image in _groups(labels, images, min_pixels).values():
        pairs = [
            gaussian_wasserstein(features[a], features[b])
            for a, b in combinations(by_image.values(), 2)
        ]
        if pairs:
            per_class.append(np.mean(pairs))
    if not per_class:
        raise ValueError('CC-FV needs a class with at least '
                         f'{min_pixels} pixels in each of two images')
    return float(np.mean(per_class))


def feature_variety(features: np.ndarray,
                    images: np.ndarray,
                    eps: float = 1e-3) -> float:
    """Mean over image pairs of ``1 / sqrt(||g_i - g_j||^2 + eps)``, with
    ``g_i`` the mean feature of image ``i`` (CC-FV's feature variety).

    Args:
        features (ndarray): ``(n, d)`` pixel features.
        images (ndarray): ``(n,)`` the image of each pixel.
        eps (float): Keeps equal image features finite (the authors' 1e-3).

    Returns:
        float: The variety energy.
    """
    ids, index = np.unique(images, return_inverse=True)
    if len(ids) < 2:
        raise ValueError('CC-FV needs pixels of at least two images')
    sums = np.zeros((len(ids), features.shape[1]))
    np.add.at(sums, index, features)
    means = sums / np.bincount(index)[:, None]
    upper = np.triu_indices(len(ids), 1)
    squared = np.sum((means[:, None] - means[None])**2, -1)[upper]
    return float(np.mean(1 / np.sqrt(squared + eps)))


def ccfv(features: np.ndarray, labels: np.ndarray,
         images: np.ndarray) -> float:
    """CC-FV = log(feature variety / class consistency) (Yang et al.,
    MICCAI 2023); higher is predicted to transfer better.

    Args:
        features (ndarray): ``(n, d)`` target pixel features.
        labels (ndarray): ``(n,)`` target labels.
        images (ndarray): ``(n,)`` the image each pixel comes from.

    Returns:
        float: The score.
    """
    x, y, _ = labelled_features(features, labels)
    images = check_labels(images, x.shape[0], 'images').cpu().numpy()
    features, labels = x.cpu().numpy(), y.cpu().numpy()
    return float(
        np.log(
            feature_variety(features, images) /
            class_consistency(features, labels, images)))


__all__ = [
    'ccfv', 'class_consistency', 'feature_variety', 'gaussian_wasserstein'
]
