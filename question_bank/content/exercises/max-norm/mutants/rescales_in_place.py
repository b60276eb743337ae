# misconception: the caller's W is rescaled in place; work on a copy
# expect: W is not modified: must not be modified
# Rescales the long columns of the caller's array in place.
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    norms = np.linalg.norm(W, axis=axis, keepdims=True)
    scale = np.where(norms > c, c / np.maximum(norms, 1e-300), 1.0)
    W *= scale
    return W
