# misconception: the gradients are scaled even when the norm is not above max_norm; below or at the threshold return them with exactly the same values
# expect: no clipping at or below max_norm: come back unchanged
# Copies the torch idiom: always multiplies by min(1, max_norm / (norm + eps)), which nudges
# gradients whose norm equals max_norm.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    coef = min(1.0, max_norm / (total + eps))
    out = [(g * coef).astype(g.dtype) for g in arrays]
    if isinstance(grads, dict):
        return dict(zip(grads, out)), total
    return out, total
