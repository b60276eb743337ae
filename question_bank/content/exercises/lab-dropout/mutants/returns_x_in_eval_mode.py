# misconception: in eval mode (and with p = 0) this returns the caller's own array x; return a new array (x.copy()) so that changing the result never changes x
# expect: returns a new array on every path: argument 'x' itself, not a new object
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x  # nothing to do, so hand x back
    if p == 1:
        return np.zeros_like(x)
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0).astype(x.dtype)
