# misconception: the rng argument is not used, so the same seed does not give the same output; draw every random number from rng when it is given
# expect: same seed gives the same output: draw all randomness from the rng argument
# Always draws from a fresh unseeded generator, so results cannot be reproduced.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    keep = np.random.default_rng().random(x.shape[0]) >= p
    out = x * keep.reshape((-1,) + (1,) * (x.ndim - 1)) / (1 - p)
    return out.astype(x.dtype)
