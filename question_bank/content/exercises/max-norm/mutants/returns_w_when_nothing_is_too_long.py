# misconception: when no vector is too long this returns W itself; always return a new array (W.copy())
# expect: vectors inside the ball are untouched: never W itself
# When no vector exceeds c it returns the caller's own array instead of a new one: a later
# in-place update of the result would change W too.
import numpy as np


def max_norm(W, c, axis=0):
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError("W must be 2-D")
    if not c > 0:
        raise ValueError("c must be > 0")
    if isinstance(axis, bool) or axis not in (0, 1):
        raise ValueError("axis must be 0 or 1")
    norms = np.sqrt(np.sum(np.square(W, dtype=np.float64), axis=axis, keepdims=True))
    if not (norms > c).any():
        return W
    scale = np.where(norms > c, c / np.maximum(norms, c), 1.0)
    return np.where(norms > c, W * scale, W).astype(W.dtype)
