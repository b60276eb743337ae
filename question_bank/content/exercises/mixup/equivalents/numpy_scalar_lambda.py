import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0:
        raise ValueError("alpha must be > 0")
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError("y must be 2-D")
    if len(x) != len(y):
        raise ValueError("batch sizes differ")
    if rng is None:
        rng = np.random.default_rng()
    lam = rng.beta(alpha, alpha)
    perm = rng.permutation(len(x))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], float(lam), perm
