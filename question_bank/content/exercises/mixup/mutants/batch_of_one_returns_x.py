# misconception: for a batch of one this returns x and y themselves; always return new arrays
# expect: a batch of one is mixed with itself: x_mix is a new array, never x itself
# Takes a shortcut for a batch of one example and hands back x and y themselves.
import numpy as np


def mixup(x, y, alpha, rng=None):
    x = np.asarray(x)
    y = np.asarray(y)
    if not alpha > 0:
        raise ValueError("alpha must be > 0")
    if y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError("bad shapes")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    if x.shape[0] == 1:
        return x, y, lam, np.zeros(1, dtype=np.int64)
    perm = rng.permutation(x.shape[0])
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
