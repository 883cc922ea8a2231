"""OTCE for segmentation: conditional entropy under the OT coupling."""
import torch

from ._inputs import (ArrayLike, check_features, check_labels, compact_labels,
                      conditional_entropy_score)
from .optimal_transport import (SOLVERS, dense_emd, merge_duplicates,
                                plan_label_joint, sinkhorn_label_joint,
                                sparse_emd)


def otce_label_joint(src_features: ArrayLike,
                     src_labels: ArrayLike,
                     tgt_features: ArrayLike,
                     tgt_labels: ArrayLike,
                     solver: str = 'sparse_emd',
                     eps: float = 0.1,
                     max_iter: int = 100000,
                     tol: float = 1e-9,
                     least: int = 2) -> torch.Tensor:
    """Joint distribution of (source label, target label) under the coupling.

    ``J = onehot(y_s)^T P onehot(y_t)`` with ``P`` the optimal coupling of
    the two pixel sets for the cost ``||f_s^i - f_t^j||^2`` (Tan, Li, Huang,
    CVPR 2021, eq. 2-3; the segmentation paper's eq. 1-2).

    Args:
        src_features (ndarray | Tensor): ``(n, d)`` source pixel features.
        src_labels (ndarray | Tensor): ``(n,)`` source labels.
        tgt_features (ndarray | Tensor): ``(m, d)`` target pixel features.
        tgt_labels (ndarray | Tensor): ``(m,)`` target labels.
        solver (str): One of :data:`SOLVERS`.
        eps (float): Entropic regularisation (POT's ``reg``), for
            ``'sinkhorn'``.
        max_iter (int): Sinkhorn iteration cap.
        tol (float): Sinkhorn marginal-error tolerance.
        least (int): Fewest pixels and classes per side (2; a map's patch
            may hold 1).

    Returns:
        Tensor: ``(C_s, C_t)`` joint over the classes present, summing to 1.
    """
    if solver not in SOLVERS:
        raise ValueError(f'unknown OT solver {solver!r}; choose one of '
                         f'{SOLVERS}')
    xs = check_features(src_features, 'src_features')
    xt = check_features(tgt_features, 'tgt_features').to(xs.device)
    if xs.shape[1] != xt.shape[1]:
        raise ValueError(f'source and target feature dimensions differ: '
                         f'{xs.shape[1]} vs {xt.shape[1]}')
    ys, num_source = compact_labels(
        check_labels(src_labels, len(xs), 'src_labels', xs.device),
        'src_labels', least)
    yt, num_target = compact_labels(
        check_labels(tgt_labels, len(xt), 'tgt_labels', xs.device),
        'tgt_labels', least)
    if solver == 'sinkhorn':
        joint = sinkhorn_label_joint(xs, ys, num_source, xt, yt, num_target,
                                     eps, max_iter, tol)
    else:
        # identical pixels merged: one optimal coupling, whatever their order
        xs, a, source_shares = merge_duplicates(xs, ys, num_source)
        xt, b, target_shares = merge_duplicates(xt, yt, num_target)
        plan = (
            sparse_emd(xs, xt, a, b) if solver == 'sparse_emd' else dense_emd(
                xs, xt, a, b))
        joint = plan_label_joint(plan, source_shares, target_shares)
    return joint / joint.sum()


def otce(src_features: ArrayLike,
         src_labels: ArrayLike,
         tgt_features: ArrayLike,
         tgt_labels: ArrayLike,
         solver: str = 'sparse_emd',
         eps: float = 0.1,
         max_iter: int = 100000,
         tol: float = 1e-9,
         least: int = 2) -> float:
    """OTCE for segmentation (Tan, Li, Huang; the ICIP 2023 paper's [5]).

    ``OTCE = -H(Y_t given Y_s)`` under the optimal coupling of source and
    target pixel features with squared-L2 cost (the segmentation paper's
    OTCE = -W_T). ``'sparse_emd'`` returns an exact optimal coupling in
    bounded memory, the same as ``'emd'``'s when the optimum is unique.
    Identical pixels (frequent in trained models' upsampled logits) are
    merged before solving and their mass split in proportion afterwards
    (:func:`~mmseg_trf.metrics.optimal_transport.merge_duplicates`), so
    OTCE does not depend on the pixels' order; optima tied between distinct
    pixels remain a solver's choice. ``'sinkhorn'`` is the entropic
    coupling with ``eps`` as POT's ``reg``. See :func:`otce_label_joint`.

    Args:
        src_features (ndarray | Tensor): ``(n, d)`` source pixel features.
        src_labels (ndarray | Tensor): ``(n,)`` source labels.
        tgt_features (ndarray | Tensor): ``(m, d)`` target pixel features.
        tgt_labels (ndarray | Tensor): ``(m,)`` target labels.
        solver (str): ``'sparse_emd'`` (exact, default), ``'emd'`` (exact,
            dense) or ``'sinkhorn'``.
        eps (float): Entropic regularisation for ``'sinkhorn'``.
        max_iter (int): Sinkhorn iteration cap.
        tol (float): Sinkhorn marginal-error tolerance.
        least (int): Fewest pixels and classes per side.

    Returns:
        float: OTCE (<= 0); higher means more transferable.
    """
    joint = otce_label_joint(src_features, src_labels, tgt_features,
                             tgt_labels, solver, eps, max_iter, tol, least)
    return conditional_entropy_score(joint)


__all__ = ['otce', 'otce_label_joint']
