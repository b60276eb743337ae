# misconception: with p = 1 the code divides by 1 - p = 0 and 0 * inf gives NaN; handle p = 1 separately and return zeros
# expect: p = 1 gives all zeros: not NaN
# No special case for p = 1: 0 * x / 0 gives nan everywhere.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    rng = rng or np.random.default_rng()
    keep = rng.random(x.shape[0]) >= p
    with np.errstate(all="ignore"):
        out = x * keep.reshape((-1,) + (1,) * (x.ndim - 1)) / (1 - p)
    return out.astype(x.dtype)
