import numpy as np


def dropout(x, p, training=True, rng=None):
    if p < 0 or p > 1:
        raise ValueError("p out of range")
    if not training or p == 0:
        return np.array(x, copy=True)
    if p == 1:
        return np.zeros(x.shape, dtype=x.dtype)
    rng = rng if rng is not None else np.random.default_rng()
    mask = (rng.random(x.shape) >= p).astype(x.dtype) * (1 / (1 - p))
    return x * mask
