# misconception: float32 weights come back as float64; return the result in W's dtype
# expect: float32 weights stay float32: same dtype as W
# Computes the norms in float64 and returns the float64 product for float32 weights.
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    norms = np.linalg.norm(W.astype(np.float64), axis=axis, keepdims=True)
    return W * np.where(norms > c, c / np.maximum(norms, 1e-300), 1.0)
