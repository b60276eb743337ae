# misconception: the labels use another permutation than the inputs; use the same perm for x and y
# expect: labels are mixed with the same permutation: lam * y[n] + (1 - lam) * y[perm[n]]
# Shuffles the labels with a second, independent permutation, so labels no longer match inputs.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(len(x))
    perm_y = rng.permutation(len(y))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm_y], lam, perm
