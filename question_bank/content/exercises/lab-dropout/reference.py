import numpy as np


def dropout(x, p, training=True, rng=None):
    """Inverted dropout: zero each element with probability p, scale survivors by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    if rng is None:
        rng = np.random.default_rng()
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0).astype(x.dtype, copy=False)
