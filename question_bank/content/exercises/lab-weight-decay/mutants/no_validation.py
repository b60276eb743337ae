# expect: a negative weight_decay raises ValueError: to be raised
import numpy as np


def l2_gradient(params, grads, weight_decay):
    out = {}
    for name, grad in grads.items():
        out[name] = grad + weight_decay * params[name] if name.startswith("W") else grad.copy()
    return out
