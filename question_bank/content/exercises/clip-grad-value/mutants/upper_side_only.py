# misconception: only large positive entries are capped; entries below -clip_value must become -clip_value too
# expect: worked example: clip every entry to [-clip_value, clip_value]
# Only caps large positive entries: large negative gradients pass through.
import numpy as np


def clip_grad_value(grads, clip_value):
    if clip_value <= 0:
        raise ValueError("clip_value must be > 0")
    if isinstance(grads, dict):
        return {k: np.minimum(g, clip_value) for k, g in grads.items()}
    return [np.minimum(g, clip_value) for g in grads]
