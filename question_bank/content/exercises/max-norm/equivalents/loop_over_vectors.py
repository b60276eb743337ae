import math

import numpy as np


def max_norm(W, c, axis=0):
    if np.ndim(W) != 2 or c <= 0 or axis not in (0, 1):
        raise ValueError("W must be 2-D, c > 0 and axis 0 or 1")
    out = np.array(W, copy=True)
    view = out if axis == 1 else out.T  # rows of `view` are the vectors to constrain
    for i in range(view.shape[0]):
        norm = math.sqrt(sum(float(v) * float(v) for v in view[i]))
        if norm > c:
            view[i] = view[i] / norm * c
    return out
