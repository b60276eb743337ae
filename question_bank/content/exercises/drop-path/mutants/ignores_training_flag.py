# misconception: branches are dropped in eval mode too; with training=False return the values unchanged
# expect: eval mode returns x unchanged: with training=False
# Never looks at the training flag, so branches are dropped at inference time too.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng or np.random.default_rng()
    keep = rng.random(x.shape[0]) >= p
    out = x * keep.reshape((-1,) + (1,) * (x.ndim - 1)) / (1 - p)
    return out.astype(x.dtype)
