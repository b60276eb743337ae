# misconception: the copies made when nothing is clipped are float64; every returned array keeps the dtype of the gradient it replaces, on both paths
# expect: no clipping at or below max_norm: same dtype as the array it replaces
import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0:
        raise ValueError("max_norm must be > 0")
    if eps < 0:
        raise ValueError("eps must be >= 0")
    names = list(grads) if isinstance(grads, dict) else None
    arrays = [grads[k] for k in names] if names is not None else list(grads)
    total = float(np.sqrt(sum(float(np.sum(np.square(g.astype(float)))) for g in arrays)))
    if total > max_norm:
        scale = max_norm / (total + eps)
        out = [(g * scale).astype(g.dtype) for g in arrays]
    else:
        out = [np.array(g, dtype=float) for g in arrays]
    return (dict(zip(names, out)) if names is not None else out), total
