# misconception: an empty container returns before max_norm and eps are checked; validate the arguments first, whatever grads holds
# expect: bad arguments raise ValueError: whatever grads holds
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if len(grads) == 0:
        return ({} if isinstance(grads, dict) else []), 0.0
    if max_norm <= 0:
        raise ValueError("max_norm must be > 0")
    if eps < 0:
        raise ValueError("eps must be >= 0")
    keys = list(grads.keys()) if isinstance(grads, dict) else range(len(grads))
    total = float(np.sqrt(sum(np.sum(np.asarray(grads[k], dtype=np.float64) ** 2) for k in keys)))
    factor = max_norm / (total + eps) if total > max_norm else 1.0
    out = {k: (grads[k] * factor).astype(grads[k].dtype) for k in keys}
    return (out if isinstance(grads, dict) else [out[k] for k in keys]), total
