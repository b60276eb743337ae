# misconception: arrays with nothing to clip come back as float64 copies; every returned array keeps the dtype of the gradient it replaces
# expect: entries inside the range are unchanged: same dtype as the array it replaces
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")

    def clip(g):
        if np.abs(g).max(initial=0.0) <= clip_value:
            return np.array(g, dtype=float)
        return np.clip(g, -clip_value, clip_value)

    if isinstance(grads, dict):
        return {k: clip(g) for k, g in grads.items()}
    return [clip(g) for g in grads]
