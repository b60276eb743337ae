# misconception: with float32 and float64 gradients together the norm and the factor are np.float64, and float32 * np.float64 gives float64; cast each clipped array back to its own dtype
# expect: float32 gradients stay float32: float32 * np.float64 is float64
# Sums the squares in each array's own dtype: fine for float32 alone, but a float64 array among
# the gradients makes the factor an np.float64 that upcasts the float32 ones.
import numpy as np

def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("bad")
    vals = list(grads.values()) if isinstance(grads, dict) else list(grads)
    total = np.sqrt(sum(np.sum(g ** 2) for g in vals)) if vals else 0.0
    scale = max_norm / (total + eps) if total > max_norm else 1.0
    out = [g * scale for g in vals]
    if isinstance(grads, dict):
        return dict(zip(grads.keys(), out)), float(total)
    return out, float(total)
