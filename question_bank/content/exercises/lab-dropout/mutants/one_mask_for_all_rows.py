# misconception: this draws one mask for the last axis and reuses it for every row of the batch; draw an independent coin for every element, rng.random(x.shape)
# expect: each element has its own coin: not independent along axis 0
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(x.shape[-1:]) >= p  # one mask per feature, broadcast over the rows
    return np.where(keep, x / (1 - p), 0).astype(x.dtype)
