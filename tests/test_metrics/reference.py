"""Textbook versions of the metrics, written for clarity, not speed.

Loops and direct formulas in numpy/scipy, independent of the package code,
for the tests to compare against.
"""
import numpy as np
from scipy.optimize import minimize


def hscore(f, y, rcond=1e-10):
    f = np.asarray(f, np.float64)
    cov_f = np.cov(f, rowvar=False)
    g = np.zeros_like(f)
    for c in np.unique(y):
        g[y == c] = f[y == c].mean(0)
    cov_g = np.cov(g, rowvar=False)
    return np.trace(np.linalg.pinv(cov_f, rcond=rcond, hermitian=True) @ cov_g)


def leep(p, y):
    n, z = p.shape
    classes = np.unique(y)
    joint = np.zeros((len(classes), z))
    for i in range(n):
        joint[np.searchsorted(classes, y[i])] += p[i] / n
    total = 0.0
    for i in range(n):
        row = np.searchsorted(classes, y[i])
        eep = 0.0
        for k in range(z):
            if joint[:, k].sum() > 0:
                eep += joint[row, k] / joint[:, k].sum() * p[i, k]
        total += np.log(eep)
    return total / n


def conditional_entropy_score(joint):
    """-H(cols given rows); the conditioning variable is on the rows."""
    joint = joint / joint.sum()
    total = 0.0
    for a in range(joint.shape[0]):
        row_mass = joint[a].sum()
        for b in range(joint.shape[1]):
            if joint[a, b] > 0:
                total += joint[a, b] * np.log(joint[a, b] / row_mass)
    return total


def nce(p, y):
    z = p.argmax(1)
    classes = np.unique(y)
    joint = np.zeros((p.shape[1], len(classes)))
    for zi, yi in zip(z, y):
        joint[zi, np.searchsorted(classes, yi)] += 1
    return conditional_entropy_score(joint)


def log_evidence_full(f, t, alpha, beta):
    """log N(t; 0, I / beta + F F^T / alpha) computed in n dimensions."""
    n = f.shape[0]
    cov = np.eye(n) / beta + f @ f.T / alpha
    sign, logdet = np.linalg.slogdet(cov)
    return -0.5 * (
        n * np.log(2 * np.pi) + logdet + t @ np.linalg.solve(cov, t))


def logme_bruteforce(f, y):
    """Maximise the evidence of each one-hot column by Nelder-Mead on
    (log alpha, log beta), then polish; mean over classes per pixel."""
    f = np.asarray(f, np.float64)
    n = f.shape[0]
    scores = []
    for c in np.unique(y):
        t = (y == c).astype(np.float64)

        def neg(params):
            return -log_evidence_full(f, t, np.exp(params[0]), np.exp(
                params[1]))

        best = None
        for start in ([0.0, 0.0], [5.0, 1.0], [-3.0, 2.0], [10.0, 3.0]):
            res = minimize(
                neg,
                start,
                method='Nelder-Mead',
                options=dict(xatol=1e-10, fatol=1e-13, maxiter=20000))
            if best is None or res.fun < best.fun:
                best = res
        scores.append(-best.fun / n)
    return float(np.mean(scores))


def transrate(f, y, eps=1e-4):
    z = f - f.mean(0)

    def rate(m):
        n, d = m.shape
        return 0.5 * np.linalg.slogdet(np.eye(d) + m.T @ m / (n * eps))[1]

    classes = np.unique(y)
    return rate(z) - np.mean([rate(z[y == c]) for c in classes])


def gbc_diagonal(f, y):
    """GBC on features already of dimension <= 64 (no PCA needed)."""
    z = f - f.mean(0)
    classes = list(np.unique(y))
    stats = {
        c: (z[y == c].mean(0), np.maximum(z[y == c].var(0), 1e-4))
        for c in classes
    }
    total = 0.0
    for c1 in classes:
        for c2 in classes:
            if c1 == c2:
                continue
            m1, s1 = stats[c1]
            m2, s2 = stats[c2]
            s = (s1 + s2) / 2
            db = np.sum((m1 - m2)**2 / s) / 8 + 0.5 * (
                np.sum(np.log(s)) - 0.5 * np.sum(np.log(s1)) -
                0.5 * np.sum(np.log(s2)))
            total += np.exp(-db)
    return -total


def otce_from_plan(plan, ys, yt):
    """OTCE from a dense plan with explicit loops over the plan's entries."""
    cs, ct = np.unique(ys), np.unique(yt)
    joint = np.zeros((len(cs), len(ct)))
    rows, cols = np.nonzero(plan)
    for i, j in zip(rows, cols):
        joint[np.searchsorted(cs, ys[i]),
              np.searchsorted(ct, yt[j])] += plan[i, j]
    return conditional_entropy_score(joint)


def sinkhorn_log_plan(xs, xt, eps, iters=20000, tol=1e-12):
    """Plain log-domain Sinkhorn with uniform marginals."""
    from scipy.special import logsumexp
    cost = ((xs[:, None, :] - xt[None, :, :])**2).sum(2)
    n, m = cost.shape
    log_a, log_b = -np.log(n) * np.ones(n), -np.log(m) * np.ones(m)
    f, g = np.zeros(n), np.zeros(m)
    for _ in range(iters):
        f = eps * (log_a - logsumexp((g[None] - cost) / eps, axis=1))
        g = eps * (log_b - logsumexp((f[:, None] - cost) / eps, axis=0))
        plan = np.exp((f[:, None] + g[None] - cost) / eps)
        if np.abs(plan.sum(1) - 1 / n).sum() < tol:
            break
    return plan
