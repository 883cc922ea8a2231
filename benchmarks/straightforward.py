"""Straightforward implementations the benchmark compares against.

Vectorised numpy, the way the metrics are usually written (and the way the
seed code computes OTCE); the textbook versions in
``tests/test_metrics/reference.py`` serve H-score, GBC and TransRate.
"""
import numpy as np
import ot


def logme_original(f, y, max_iter=11, tol=1e-3):
    """LogME as in You et al.'s release: thin SVD of F, then per class the
    MacKay fixed point (11 iterations, 1e-3 tolerance on alpha/beta)."""
    f = np.asarray(f, np.float64)
    n, d = f.shape
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    sigma = s**2
    evidences = []
    for c in np.unique(y):
        t = (y == c).astype(np.float64)
        x = u.T @ t
        x2 = x**2
        res_x2 = t @ t - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            gamma = (beta * sigma / (alpha + beta * sigma)).sum()
            m2 = (beta**2 * sigma * x2 / (alpha + beta * sigma)**2).sum()
            res2 = (alpha**2 * x2 / (alpha + beta * sigma)**2).sum() + res_x2
            new_alpha, new_beta = gamma / (m2 + 1e-5), (n - gamma) / (
                res2 + 1e-5)
            done = abs(new_alpha / new_beta - alpha / beta) / (alpha /
                                                               beta) < tol
            alpha, beta = new_alpha, new_beta
            if done:
                break
        evidence = (
            d / 2 * np.log(alpha) + n / 2 * np.log(beta) -
            0.5 * np.log(alpha + beta * sigma).sum() - beta / 2 * res2 -
            alpha / 2 * m2 - n / 2 * np.log(2 * np.pi))
        evidences.append(evidence / n)
    return float(np.mean(evidences))


def leep_numpy(p, y):
    """LEEP with the joint as a one-hot product (zero-mass columns masked)."""
    onehot = np.eye(y.max() + 1)[y]
    joint = onehot.T @ p / len(y)
    mass = joint.sum(0)
    cond = np.divide(joint, mass, out=np.zeros_like(joint), where=mass > 0)
    return float(np.log((p * cond[y]).sum(1)).mean())


def nce_numpy(p, y):
    """NCE from the count joint of (label, argmax)."""
    z = p.argmax(1)
    joint = np.zeros((y.max() + 1, p.shape[1]))
    np.add.at(joint, (y, z), 1.0)
    joint /= joint.sum()
    pz = joint.sum(0)
    mask = joint > 0
    return float((joint[mask] * np.log((joint / pz)[mask])).sum())


def otce_seed(xs, ys, xt, yt):
    """OTCE the way the seed code computes it: dense exact EMD (run to
    optimality here), then the label joint from N x N index arrays."""
    n, m = len(xs), len(xt)
    cost = ot.dist(xs, xt)
    plan = ot.emd(ot.unif(n), ot.unif(m), cost, numItermax=1 << 30)
    source_index = np.repeat(ys, m)
    target_index = np.tile(yt, n)
    joint = np.zeros((ys.max() + 1, yt.max() + 1))
    np.add.at(joint, (source_index, target_index), plan.ravel())
    row = joint.sum(1, keepdims=True)
    mask = joint > 0
    return float((joint[mask] * np.log((joint / row)[mask])).sum())
