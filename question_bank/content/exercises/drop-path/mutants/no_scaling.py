# misconception: the kept examples must be divided by 1 - p so that the expected value stays x; this looks like leaving them unscaled
# expect: kept examples are scaled by 1/(1-p): must be 0 or x / (1 - p)
# expect: expected value is preserved: scaled by 1/(1-p)
# Drops whole examples but forgets to scale up the survivors.
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    rng = rng or np.random.default_rng()
    keep = rng.random(x.shape[0]) >= p
    return x * keep.reshape((-1,) + (1,) * (x.ndim - 1))
