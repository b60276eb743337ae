# misconception: the norms are taken over the wrong axis: with axis=0 the vectors are the columns W[:, j], so sum over axis 0
# expect: worked example: every column norm must be at most c
# Reads axis=0 as "vectors along axis 0", i.e. rows, so it constrains rows instead of columns.
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    other = 1 - axis
    norms = np.linalg.norm(W, axis=other, keepdims=True)
    return W * np.where(norms > c, c / np.maximum(norms, 1e-300), 1.0)
