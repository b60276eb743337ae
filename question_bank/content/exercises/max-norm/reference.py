import numpy as np


def max_norm(W, c, axis=0):
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D, got shape {W.shape}")
    if not c > 0:
        raise ValueError(f"c must be > 0, got {c!r}")
    if isinstance(axis, bool) or axis not in (0, 1):
        raise ValueError(f"axis must be 0 or 1, got {axis!r}")
    norms = np.sqrt(np.sum(np.square(W, dtype=np.float64), axis=axis, keepdims=True))
    too_long = norms > c
    scale = np.where(too_long, c / np.where(too_long, norms, 1.0), 1.0)
    out = W.copy()
    np.multiply(W, scale, out=out, where=np.broadcast_to(too_long, W.shape), casting="unsafe")
    return out
