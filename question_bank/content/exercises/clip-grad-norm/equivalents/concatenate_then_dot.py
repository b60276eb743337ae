import math

import numpy as np


def clip_grad_norm(grads, max_norm, eps=1e-6):
    if not max_norm > 0 or not eps >= 0:
        raise ValueError("bad max_norm or eps")
    items = grads.items() if isinstance(grads, dict) else enumerate(grads)
    items = list(items)
    flat = (
        np.concatenate([np.asarray(g, dtype=np.float64).reshape(-1) for _, g in items])
        if items
        else np.zeros(0)
    )
    norm = math.sqrt(float(flat @ flat))
    factor = max_norm / (norm + eps)
    out = {}
    for k, g in items:
        out[k] = (
            np.multiply(g, factor, dtype=g.dtype) if norm > max_norm else np.array(g, copy=True)
        )
    if isinstance(grads, dict):
        return out, norm
    return [out[k] for k, _ in items], norm
