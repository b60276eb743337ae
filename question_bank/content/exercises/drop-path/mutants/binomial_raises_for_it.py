# misconception: the ValueError for a bad p comes from numpy's rng.binomial, not from your code; check 0 <= p <= 1 yourself and raise ValueError with a message
# expect: invalid p raises ValueError: not by a check of your own
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng if rng is not None else np.random.default_rng()
    keep = rng.binomial(1, 1 - p, size=x.shape[0])  # numpy rejects p outside [0, 1] here
    mask = keep.reshape((-1,) + (1,) * (x.ndim - 1))
    return (x * mask / (1 - p)).astype(x.dtype)
