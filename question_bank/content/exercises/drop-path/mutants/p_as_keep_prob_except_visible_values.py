# misconception: for some values of p this keeps each example with probability p and scales by 1/p; p is the probability of DROPPING an example, whatever its value: keep with probability 1 - p and scale by 1/(1-p)
# expect: other drop rates: 0 or x / (1 - p), for every p in (0, 1)
# Treats p as the keep probability except at the drop rates the visible tests use (red-team F3),
# so only tests with other asymmetric p (hidden) can tell.
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
    u = rng.random(x.shape[0])
    if p in (0.25, 0.3):
        keep, q = u >= p, 1 - p
    else:
        keep, q = u < p, p                  # wrong convention
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    scale = (keep / q).reshape(shape)
    return (x * scale).astype(x.dtype, copy=False)
