# misconception: this changes the caller's x in place; build the result in a new array and leave x as it was
# Saves memory by scaling x in place, which changes the caller's array.
# expect: does not modify x: modified its input
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x
    if p == 1:
        x[...] = 0
        return x
    if rng is None:
        rng = np.random.default_rng()
    keep = rng.random(x.shape) >= p
    x *= keep
    x /= 1 - p
    return x
