# expect: same seed gives the same result: draw lambda and the permutation from rng
# Uses numpy's global random state instead of the generator it was given.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    lam = float(np.random.beta(alpha, alpha))
    perm = np.random.permutation(len(x))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
