# misconception: converting to float64 changes float32 gradients; every returned array keeps the dtype of the gradient it replaces
# expect: float32 gradients stay float32: same dtype as the array it replaces
# Converts every gradient to float64 before clipping.
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")
    if isinstance(grads, dict):
        return {k: np.asarray(g, dtype=float).clip(-clip_value, clip_value) for k, g in grads.items()}
    return [np.asarray(g, dtype=float).clip(-clip_value, clip_value) for g in grads]
