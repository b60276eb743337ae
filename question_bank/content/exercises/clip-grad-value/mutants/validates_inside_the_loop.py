# misconception: clip_value is only checked while looping over the gradients, so an empty container never raises; check clip_value before anything else
# expect: bad clip_value raises ValueError: whatever grads holds
import numpy as np


def clip_grad_value(grads, clip_value):
    items = grads.items() if isinstance(grads, dict) else enumerate(grads)
    out = {}
    for key, g in items:
        if clip_value <= 0:
            raise ValueError("clip_value must be > 0")
        out[key] = np.clip(g, -clip_value, clip_value)
    return out if isinstance(grads, dict) else list(out.values())
