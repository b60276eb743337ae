import numpy as np


def l2_gradient(params, grads, weight_decay):
    if weight_decay < 0 or weight_decay != weight_decay:
        raise ValueError("weight_decay must be >= 0")
    if params.keys() != grads.keys():
        raise ValueError("params and grads must have the same keys")
    return {
        k: (g + weight_decay * params[k]) if k[0] == "W" else np.array(g, copy=True)
        for k, g in grads.items()
    }
