# misconception: the rng argument is not used, so the same seed does not give the same output; draw every random number from rng when it is given
# Always creates its own generator, so a seeded rng argument has no effect.
# expect: same seed gives the same output: draw all randomness from the rng argument
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    keep = np.random.default_rng().random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0).astype(x.dtype)
