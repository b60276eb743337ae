# misconception: this changes the caller's x in place; build the result in a new array and leave x as it was
# expect: x is not modified: must never change
# Multiplies the caller's array in place and returns it.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x
    if p == 1:
        x[...] = 0
        return x
    rng = rng or np.random.default_rng()
    keep = rng.random(x.shape[0]) >= p
    x *= (keep / (1 - p)).reshape((-1,) + (1,) * (x.ndim - 1))
    return x
