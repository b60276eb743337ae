# misconception: lambda is uniform on [0, 1] whatever alpha; draw it from Beta(alpha, alpha)
# expect: lambda follows Beta(alpha, alpha): Beta(alpha, alpha)
# Draws lambda uniformly from [0, 1], ignoring alpha.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.uniform())
    perm = rng.permutation(len(x))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
