# misconception: vectors inside the ball are changed too (an epsilon in the denominator nudges every vector); leave vectors with norm <= c exactly as they are
# expect: vectors inside the ball are untouched: must come back unchanged
# Copies the Keras formula W * clip(norms, 0, c) / (eps + norms), which nudges every vector.
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    norms = np.sqrt(np.sum(np.square(W), axis=axis, keepdims=True))
    desired = np.clip(norms, 0, c)
    return W * (desired / (1e-7 + norms))
