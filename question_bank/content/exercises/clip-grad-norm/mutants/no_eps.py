# misconception: the factor is max_norm / (total_norm + eps): add eps to the norm before dividing
# expect: eps in the denominator: max_norm / (total_norm + eps)
# Divides by the bare norm.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays)))
    scale = max_norm / total if total > max_norm else 1.0
    out = [(g * scale).astype(g.dtype) for g in arrays]
    if isinstance(grads, dict):
        return dict(zip(grads, out)), total
    return out, total
