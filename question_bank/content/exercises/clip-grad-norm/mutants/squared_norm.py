# misconception: the norm is the square root of the sum of squares; this looks like using the sum of squares itself
# expect: worked example: total_norm is the norm before clipping
# expect: one global norm for all arrays: scaled by the same factor
# Forgets the square root: uses the sum of squares as the norm.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays))
    scale = max_norm / (total + eps) if total > max_norm else 1.0
    out = [(g * scale).astype(g.dtype) for g in arrays]
    if isinstance(grads, dict):
        return dict(zip(grads, out)), total
    return out, total
