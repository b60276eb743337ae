# misconception: every vector is scaled to norm c, also the short ones; only vectors whose norm exceeds c change
# expect: vectors inside the ball are untouched: must come back unchanged
# Normalizes every vector to norm c, also the short ones (a projection onto the sphere, not the ball).
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    norms = np.linalg.norm(W, axis=axis, keepdims=True)
    return W * (c / norms)
