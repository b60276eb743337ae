# misconception: this keeps each example with probability p instead of dropping it with probability p: an example survives with probability 1 - p
# expect: drop rate matches p: dropped with probability p
# Keeps an example with probability p instead of dropping it with probability p.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng or np.random.default_rng()
    keep = rng.random(x.shape[0]) < p
    out = x * keep.reshape((-1,) + (1,) * (x.ndim - 1)) / (1 - p)
    return out.astype(x.dtype)
