# misconception: each example is paired with its mirror, not a random partner; use rng.permutation(N)
# expect: the pairing is a random permutation: random permutation
# Pairs each example with its mirror in the batch instead of a random partner.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = np.arange(len(x))[::-1].copy()
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
