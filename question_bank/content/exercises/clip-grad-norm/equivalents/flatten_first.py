import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if max_norm <= 0 or eps < 0:
        raise ValueError("max_norm must be > 0 and eps >= 0")
    names = list(grads) if isinstance(grads, dict) else None
    arrays = [grads[n] for n in names] if names is not None else list(grads)
    flat = np.zeros(0)
    if arrays:
        flat = np.concatenate([np.ravel(g).astype(np.float64) for g in arrays])
    total = float(np.linalg.norm(flat))
    out = []
    for g in arrays:
        if total > max_norm:
            out.append(np.multiply(g, max_norm / (total + eps), dtype=g.dtype))
        else:
            out.append(np.array(g, copy=True))
    if names is not None:
        return dict(zip(names, out, strict=True)), total
    return out, total
