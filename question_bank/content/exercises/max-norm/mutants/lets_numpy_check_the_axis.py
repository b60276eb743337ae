# misconception: axis is never checked (numpy's own error covers axis=2, but axis=-1 goes through); raise ValueError yourself unless axis is 0 or 1
# expect: bad arguments raise ValueError: do not rely on numpy
# Never checks axis: numpy's own AxisError (a ValueError) covers axis=2, and axis=-1 goes through.
import numpy as np


def max_norm(W, c, axis=0):
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError("W must be 2-D")
    if not c > 0:
        raise ValueError("c must be > 0")
    norms = np.sqrt(np.sum(np.square(W, dtype=np.float64), axis=axis, keepdims=True))
    too_long = norms > c
    scale = np.where(too_long, c / np.where(too_long, norms, 1.0), 1.0)
    out = W.copy()
    np.multiply(W, scale, out=out, where=np.broadcast_to(too_long, W.shape), casting="unsafe")
    return out
