# misconception: with the penalty (weight_decay / 2) * sum(W**2) the gradient is weight_decay * W, not 2 * weight_decay * W
# expect: weights get weight_decay * W added: elements differ
# expect: the curves are the reference's: leaves the reference's
import numpy as np


def l2_gradient(params, grads, weight_decay):
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    out = {}
    for name, grad in grads.items():
        out[name] = grad + 2 * weight_decay * params[name] if name.startswith("W") else grad.copy()
    return out
