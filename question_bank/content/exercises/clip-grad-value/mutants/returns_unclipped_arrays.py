# misconception: arrays with nothing to clip are handed back as the caller's own arrays; return a new array for every gradient (np.clip already makes one)
# expect: returns new arrays: argument 'grads'[0] itself, not a new object
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")

    def clip(g):
        if np.all(np.abs(g) <= clip_value):
            return g  # already inside the range
        return np.clip(g, -clip_value, clip_value)

    if isinstance(grads, dict):
        return {k: clip(g) for k, g in grads.items()}
    return [clip(g) for g in grads]
