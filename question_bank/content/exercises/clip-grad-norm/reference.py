import math

import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm!r}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    squares = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays)
    total_norm = math.sqrt(squares)
    scale = max_norm / (total_norm + eps) if total_norm > max_norm else 1.0

    def clip(g):
        g = np.asarray(g)
        return (g * scale).astype(g.dtype, copy=False) if scale != 1.0 else g.copy()

    if isinstance(grads, dict):
        return {name: clip(g) for name, g in grads.items()}, total_norm
    return [clip(g) for g in arrays], total_norm
