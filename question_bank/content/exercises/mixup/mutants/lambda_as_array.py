# misconception: lambda is an array (size=1); draw a single number with rng.beta(alpha, alpha) and return it as a float
# expect: outputs have the documented form: lam must be a number
# Draws lambda with size=1, so it is an array of shape (1,) (and float32 inputs become float64).
import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0 or np.ndim(y) != 2 or len(x) != len(y):
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    lam = rng.beta(alpha, alpha, size=1)
    perm = rng.permutation(len(x))
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
