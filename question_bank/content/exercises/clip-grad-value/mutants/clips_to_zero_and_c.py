# misconception: the interval is [-clip_value, clip_value]; this looks like clipping to [0, clip_value], which wipes out negative entries
# expect: worked example: clip every entry to [-clip_value, clip_value]
# Uses the interval [0, c]: every negative gradient entry is wiped out.
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")
    if isinstance(grads, dict):
        return {k: np.clip(g, 0, clip_value) for k, g in grads.items()}
    return [np.clip(g, 0, clip_value) for g in grads]
