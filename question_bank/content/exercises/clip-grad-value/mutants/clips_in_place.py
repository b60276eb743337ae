# misconception: np.clip(..., out=g) overwrites the caller's gradients; let np.clip make a new array and leave the arguments as they were
# expect: inputs are left unchanged: must not be modified
# Uses np.clip(..., out=g), overwriting the caller's gradients.
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")
    items = grads.values() if isinstance(grads, dict) else grads
    for g in items:
        np.clip(g, -clip_value, clip_value, out=g)
    return grads
