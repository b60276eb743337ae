# misconception: p is only checked in training mode; raise ValueError for p outside [0, 1] whatever training is
# expect: invalid p raises ValueError: in eval mode too
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not training:
        return x.copy()
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    if p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng if rng is not None else np.random.default_rng()
    keep = rng.random(x.shape[0]) >= p
    mask = keep.reshape((-1,) + (1,) * (x.ndim - 1))
    return np.where(mask, x / (1 - p), 0).astype(x.dtype)
