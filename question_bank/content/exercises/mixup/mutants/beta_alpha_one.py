# misconception: lambda is drawn from Beta(alpha, 1); draw it from Beta(alpha, alpha), which is symmetric around 1/2
# expect: lambda follows Beta(alpha, alpha): Beta(alpha, alpha)
# Uses Beta(alpha, 1), which is not symmetric around 1/2.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, 1.0))
    perm = rng.permutation(len(x))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
