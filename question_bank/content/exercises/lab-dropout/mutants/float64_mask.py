# misconception: the mask or scale is float64, which turns float32 activations into float64; keep x's dtype (for example with .astype(x.dtype))
# Builds the mask with astype(float), which silently upcasts float32 activations to float64.
# expect: keeps dtype float32: float32 in, float32 out
import numpy as np


def dropout(x, p, training=True, rng=None):
    if not 0 <= p <= 1:
        raise ValueError("p must be in [0, 1]")
    if not training or p == 0:
        return x.copy()
    if p == 1:
        return np.zeros_like(x)
    if rng is None:
        rng = np.random.default_rng()
    mask = (rng.random(x.shape) >= p).astype(float)
    return x * mask / (1 - p)
