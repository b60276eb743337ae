# misconception: a dict of gradients must come back as a dict with the same keys, not as a list
# expect: a dict of gradients comes back as a dict: same kind of container
# Iterates over the values of a dict and returns a plain list.
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")
    items = grads.values() if isinstance(grads, dict) else grads
    return [np.clip(g, -clip_value, clip_value) for g in items]
