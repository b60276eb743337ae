# misconception: lambda weights the partner instead of the example itself: x_mix = lam * x + (1 - lam) * x[perm]
# expect: inputs are mixed with the permuted batch: lam * x[n] + (1 - lam) * x[perm[n]]
# Puts lambda on the partner example and 1 - lambda on the example itself.
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(len(x))
    return (1 - lam) * x + lam * x[perm], (1 - lam) * y + lam * y[perm], lam, perm
