import numpy as np


def dropout(x, p, training=True, rng=None):
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"invalid p={p}")
    out = np.copy(x)
    if not training or p == 0.0:
        return out
    if p == 1.0:
        out[...] = 0
        return out
    gen = rng if rng is not None else np.random.default_rng()
    keep = gen.random(size=x.shape) > p
    out[~keep] = 0
    out[keep] = out[keep] / (1.0 - p)
    return out
