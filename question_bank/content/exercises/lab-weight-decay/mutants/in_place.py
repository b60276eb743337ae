# expect: the caller's arrays are not modified: changed in place
import numpy as np


def l2_gradient(params, grads, weight_decay):
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    for name, grad in grads.items():
        if name.startswith("W"):
            grad += weight_decay * params[name]
    return grads
