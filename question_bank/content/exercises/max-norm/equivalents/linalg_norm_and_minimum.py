import numpy as np


def max_norm(W, c, axis=0):
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError("W must be 2-D")
    if c <= 0:
        raise ValueError("c must be > 0")
    if axis not in (0, 1) or isinstance(axis, bool):
        raise ValueError("axis must be 0 or 1")
    norms = np.linalg.norm(W, axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        scale = np.minimum(1.0, c / norms)
    return (W * scale).astype(W.dtype)
