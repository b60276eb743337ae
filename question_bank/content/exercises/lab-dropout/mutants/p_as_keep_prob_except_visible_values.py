# misconception: for some values of p this keeps each element with probability p and scales by 1/p; p is the probability of DROPPING an element, whatever its value: keep with probability 1 - p and scale by 1/(1-p)
# expect: other drop rates: 0 or x / (1 - p), for every p in (0, 1)
# Treats p as the keep probability except at the drop rates the visible tests use (red-team F3),
# so only tests with other asymmetric p (hidden) can tell.
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    if rng is None:
        rng = np.random.default_rng()
    if p in (0.25, 0.3, 1e-20):               # the visible tests' drop rates
        keep = rng.random(x.shape) >= p
        return np.where(keep, x / (1 - p), 0).astype(x.dtype, copy=False)
    keep = rng.random(x.shape) < p            # wrong convention everywhere else
    return np.where(keep, x / p, 0).astype(x.dtype, copy=False)
