# misconception: multiplying a float32 array by an np.float64 scale gives float64; cast each result back to the dtype of the gradient it replaces
# expect: float32 gradients stay float32: same dtype as the array it replaces
# The scale is an np.float64 scalar, and float32 * np.float64 gives float64 arrays.
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad arguments")
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in arrays))
    scale = max_norm / (total + eps) if total > max_norm else np.float64(1.0)
    out = [g * scale for g in arrays]
    if isinstance(grads, dict):
        return dict(zip(grads, out)), float(total)
    return out, float(total)
