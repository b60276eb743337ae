# misconception: without an rng this always creates the same seeded generator, so every call drops the same elements; use np.random.default_rng() with no seed
# Seeds its fallback generator with a constant, so unseeded calls all drop the same elements.
# expect: without rng the calls differ: np.random.default_rng(), a fresh unseeded generator
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    if rng is None:
        rng = np.random.default_rng(0)
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0).astype(x.dtype)
