# misconception: with p = 1 the code divides by 1 - p = 0 and 0 * inf gives NaN; handle p = 1 separately and return zeros
# Divides by 1 - p even when p == 1, so 0 * (x / 0) turns into NaN.
# expect: p = 1 gives all zeros: not NaN or inf
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training:
        return x.copy()
    if rng is None:
        rng = np.random.default_rng()
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask / (1 - p)
