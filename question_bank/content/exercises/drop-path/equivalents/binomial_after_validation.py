import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("bad p")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng or np.random.default_rng()
    keep = rng.binomial(1, 1 - p, size=(x.shape[0],) + (1,) * (x.ndim - 1))
    return (x * keep / (1 - p)).astype(x.dtype)
