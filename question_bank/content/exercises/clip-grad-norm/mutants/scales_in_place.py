# misconception: this scales the caller's gradient arrays in place; return new arrays and leave the arguments as they were
# expect: inputs are left unchanged: must not be modified
# Scales the caller's arrays in place (like clip_grad_norm_ does to .grad) and returns them.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    if total > max_norm:
        for g in arrays:
            g *= max_norm / (total + eps)
    return grads, total
