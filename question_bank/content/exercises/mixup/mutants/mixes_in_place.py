# misconception: x and y are changed in place, which also corrupts the partners of later rows; build x_mix and y_mix as new arrays
# expect: inputs are left unchanged: must not be modified
# Scales x and y in place to save memory, which also corrupts x[perm] for later rows.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(len(x))
    partner_x, partner_y = x[perm], y[perm]
    x *= lam
    x += (1 - lam) * partner_x
    y *= lam
    y += (1 - lam) * partner_y
    return x, y, lam, perm
