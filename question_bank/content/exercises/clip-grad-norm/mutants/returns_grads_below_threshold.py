# misconception: when nothing needs clipping this hands back the caller's own container and arrays; return new arrays (copies) in a new list or dict
# expect: returns new arrays: itself, not a new object
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0:
        raise ValueError("max_norm must be > 0")
    if eps < 0:
        raise ValueError("eps must be >= 0")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    if total <= max_norm:
        return grads, total  # nothing to clip
    scale = max_norm / (total + eps)
    if isinstance(grads, dict):
        return {k: (g * scale).astype(g.dtype) for k, g in grads.items()}, total
    return [(g * scale).astype(g.dtype) for g in grads], total
