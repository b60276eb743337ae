# misconception: in eval mode (and with p = 0) this returns the caller's own array x; return a new array (x.copy()) so that changing the result never changes x
# expect: returns a new array on every path: argument 'x' itself, not a new object
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x
    if p == 1:
        return np.zeros_like(x)
    rng = rng if rng is not None else np.random.default_rng()
    keep = (rng.random(len(x)) >= p).astype(x.dtype)
    return x * keep.reshape((-1,) + (1,) * (x.ndim - 1)) / x.dtype.type(1 - p)
