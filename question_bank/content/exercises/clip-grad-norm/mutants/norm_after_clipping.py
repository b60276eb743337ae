# misconception: total_norm must be the norm before clipping, not the norm of the clipped gradients
# expect: worked example: total_norm is the norm before clipping
# Reports the norm of the clipped gradients, which is always <= max_norm.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    if total > max_norm:
        arrays = [(g * (max_norm / (total + eps))).astype(g.dtype) for g in arrays]
        total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    else:
        arrays = [g.copy() for g in arrays]
    if isinstance(grads, dict):
        return dict(zip(grads, arrays)), total
    return arrays, total
