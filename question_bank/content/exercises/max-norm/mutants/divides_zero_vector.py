# misconception: an all-zero vector is divided by its norm 0, giving NaN; only rescale vectors whose norm exceeds c
# expect: a zero vector stays zero: no division by zero
# Computes min(norm, c) / norm for every vector: 0 / 0 = nan for an all-zero column.
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    norms = np.linalg.norm(W, axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        return W * (np.minimum(norms, c) / norms)
