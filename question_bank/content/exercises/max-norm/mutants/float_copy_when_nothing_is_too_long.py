# misconception: np.array(W, dtype=float) turns float32 weights into float64 when nothing is rescaled; copy with W.copy() to keep the dtype on every path
# expect: vectors inside the ball are untouched: float32 in, float32 out
# Copies W with np.array(W, dtype=float) when nothing needs rescaling: float32 weights come back
# as float64 on that path only.
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
        return np.array(W, dtype=float)
    scale = np.where(norms > c, c / np.maximum(norms, c), 1.0)
    return np.where(norms > c, W * scale, W).astype(W.dtype)
