import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")
    names = list(grads) if isinstance(grads, dict) else range(len(grads))
    out = {}
    for name in names:
        g = grads[name]
        too_big = np.abs(g) > clip_value
        out[name] = np.where(too_big, np.sign(g) * clip_value, g).astype(g.dtype)
    return out if isinstance(grads, dict) else [out[i] for i in names]
