# misconception: the decay term is not multiplied by the learning rate: w - lr * (grad + weight_decay * w)
# expect: zero gradient shrinks every weight: factor (1 - lr * weight_decay)
# The decay term is applied on its own, not multiplied by the learning rate.
import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    if lr <= 0 or weight_decay < 0 or grad.shape != w.shape:
        raise ValueError("bad arguments")
    return w - lr * grad - weight_decay * w
