# misconception: this keeps each element with probability p instead of dropping it with probability p: an element survives with probability 1 - p
# Inverts the mask: keeps each element with probability p instead of dropping it.
# expect: drop rate matches p: zeroed with probability p
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    if rng is None:
        rng = np.random.default_rng()
    keep = rng.random(x.shape) < p
    return np.where(keep, x / (1 - p), 0).astype(x.dtype)
