import numpy as np


def drop_path(x, p, training=True, rng=None):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    out = np.array(x, copy=True)
    if not training or p == 0:
        return out
    rng = rng if rng is not None else np.random.default_rng()
    for n in range(out.shape[0]):
        if p == 1 or rng.binomial(1, p) == 1:
            out[n] = 0
        else:
            out[n] = out[n] / (1 - p)
    return out
