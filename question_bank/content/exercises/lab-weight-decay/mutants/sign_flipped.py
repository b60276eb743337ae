# misconception: the penalty's gradient is +weight_decay * W (it pulls weights toward zero); subtracting it pushes them away and makes the weights grow
# expect: weights get weight_decay * W added: elements differ
# expect: the curves are the reference's: leaves the reference's
import numpy as np


def l2_gradient(params, grads, weight_decay):
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    out = {}
    for name, grad in grads.items():
        out[name] = grad - weight_decay * params[name] if name.startswith("W") else grad.copy()
    return out
