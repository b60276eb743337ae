# misconception: partners are drawn with replacement, so perm is not a permutation; use rng.permutation(N)
# expect: outputs have the documented form: perm must be a permutation
# Draws partners with replacement (rng.integers), so some examples are used twice and others never.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = rng.integers(0, len(x), size=len(x))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
