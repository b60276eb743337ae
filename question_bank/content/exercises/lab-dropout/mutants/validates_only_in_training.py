# misconception: p is only checked in training mode; raise ValueError for p outside [0, 1] whatever training is
# expect: invalid p raises ValueError: check that 0 <= p <= 1
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not training:
        return x.copy()
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0).astype(x.dtype)
