# misconception: in training the float64 mask turns float32 inputs into float64; keep x's dtype (for example with .astype(x.dtype))
# expect: float32 stays float32 in training: float32 in, float32 out
import numpy as np


def drop_path(x, p, training=True, rng=None):
    if p < 0 or p > 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    rng = rng if rng is not None else np.random.default_rng()
    keep = rng.random(x.shape[0]) >= p
    scale = keep / (1 - p)  # float64
    return x * scale.reshape((-1,) + (1,) * (x.ndim - 1))
