# misconception: each weight is clipped to [-c, c]; max-norm rescales a whole vector whose norm exceeds c, keeping its direction
# expect: worked example: every column norm must be at most c
# Clips each weight to [-c, c] instead of rescaling whole vectors.
import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("bad arguments")
    return np.clip(W, -c, c)
