# misconception: the ValueError for a bad p comes from numpy's rng.binomial, not from your code; check 0 <= p <= 1 yourself and raise ValueError with a message
# expect: invalid p raises ValueError: not by a check of your own
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = np.random.default_rng() if rng is None else rng
    mask = rng.binomial(1, 1 - p, size=x.shape)  # numpy complains about p outside [0, 1]
    return (x * mask / (1 - p)).astype(x.dtype)
