import numpy as np


def l2_gradient(params, grads, weight_decay):
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    if sorted(params) != sorted(grads):
        raise ValueError("params and grads must have the same keys")
    out = {}
    for name in grads:
        if name.startswith("b"):
            out[name] = np.copy(grads[name])
        else:
            out[name] = weight_decay * params[name] + grads[name]
    return out
