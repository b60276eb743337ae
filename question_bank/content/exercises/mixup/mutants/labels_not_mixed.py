# misconception: the labels are not mixed; y_mix = lam * y + (1 - lam) * y[perm] with the same lam and perm as x
# expect: labels are mixed with the same permutation: lam * y[n] + (1 - lam) * y[perm[n]]
# Mixes the inputs but returns the original labels.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(len(x))
    return lam * x + (1 - lam) * x[perm], y.copy(), lam, perm
