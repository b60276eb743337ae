# expect: returns new arrays: not a new object
import numpy as np


def l2_gradient(params, grads, weight_decay):
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    return {k: (g + weight_decay * params[k]) if k.startswith("W") else g for k, g in grads.items()}
