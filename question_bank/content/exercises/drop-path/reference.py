import numpy as np


def drop_path(x, p, training=True, rng=None):
    x = np.asarray(x)
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    if rng is None:
        rng = np.random.default_rng()
    keep = rng.random(x.shape[0]) >= p
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    scale = (keep / (1 - p)).reshape(shape)
    return (x * scale).astype(x.dtype, copy=False)
