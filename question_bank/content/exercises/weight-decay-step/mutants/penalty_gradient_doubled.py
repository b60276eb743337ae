# misconception: the decay is twice too strong (the gradient of (lambda/2) * ||w||^2 is lambda * w)
# expect: worked example: w - lr * (grad + weight_decay * w)
# expect: zero gradient shrinks every weight: factor (1 - lr * weight_decay)
# Differentiates lambda * ||w||^2 instead of (lambda / 2) * ||w||^2, so the decay is twice too strong.
import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    if lr <= 0 or weight_decay < 0 or grad.shape != w.shape:
        raise ValueError("bad arguments")
    return w - lr * (grad + 2 * weight_decay * w)
