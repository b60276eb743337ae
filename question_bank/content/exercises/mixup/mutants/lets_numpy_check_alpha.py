# misconception: alpha is never checked (numpy's rng.beta raises by itself); raise ValueError yourself when alpha <= 0
# expect: bad arguments raise ValueError: alpha must be > 0
# Never checks alpha: rng.beta raises ValueError by itself for alpha <= 0.
import numpy as np


def mixup(x, y, alpha, rng=None):
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError("y must be 2-D (N, K) with the batch size of x")
    rng = np.random.default_rng() if rng is None else rng
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(x.shape[0])
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam, perm
