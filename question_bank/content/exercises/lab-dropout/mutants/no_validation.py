# misconception: p is never checked: raise ValueError when p is outside [0, 1]
# Never checks p, so p = 1.5 silently produces garbage instead of an error.
# expect: invalid p raises ValueError: check that 0 <= p <= 1
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not training or p == 0:
        return x.copy()
    if p >= 1:
        return np.zeros_like(x)
    if rng is None:
        rng = np.random.default_rng()
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0).astype(x.dtype)
