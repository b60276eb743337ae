# misconception: a dict of gradients must come back as a dict with the same keys, not as a list
# expect: a dict of gradients comes back as a dict: same kind of container
# Handles dicts by their values but always returns a list, losing the parameter names.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    scale = max_norm / (total + eps) if total > max_norm else 1.0
    return [(g * scale).astype(g.dtype) for g in arrays], total
