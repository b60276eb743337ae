# misconception: this drops single elements, like dropout; drop path draws one coin per example and zeroes or keeps the whole example
# expect: whole examples are dropped together: dropped as a whole
# Ordinary dropout: every element gets its own coin flip.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng or np.random.default_rng()
    mask = rng.random(x.shape) >= p
    return (x * mask / (1 - p)).astype(x.dtype)
