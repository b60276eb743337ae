import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    if lr <= 0 or weight_decay < 0 or np.shape(grad) != np.shape(w):
        raise ValueError("bad arguments")
    shrink = 1.0 - lr * weight_decay
    out = np.multiply(w, shrink, dtype=w.dtype)
    out -= np.multiply(grad, lr, dtype=w.dtype)
    return out
