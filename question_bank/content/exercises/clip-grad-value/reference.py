import numpy as np


def clip_grad_value(grads, clip_value):
    if not clip_value > 0:
        raise ValueError(f"clip_value must be > 0, got {clip_value!r}")

    def clip(g):
        g = np.asarray(g)
        return np.clip(g, -clip_value, clip_value).astype(g.dtype, copy=False)

    if isinstance(grads, dict):
        return {name: clip(g) for name, g in grads.items()}
    return [clip(g) for g in grads]
