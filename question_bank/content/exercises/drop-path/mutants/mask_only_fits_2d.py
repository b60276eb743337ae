# misconception: the per-example mask has shape (N, 1), which only fits 2-d inputs; reshape it to (N, 1, 1, ...) with one 1 per further axis of x
# expect: works on 3-d input: could not be broadcast
# Reshapes the per-example mask to (N, 1), which only broadcasts against 2-D inputs.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng or np.random.default_rng()
    keep = (rng.random(x.shape[0]) >= p)[:, None]
    return (x * keep / (1 - p)).astype(x.dtype)
