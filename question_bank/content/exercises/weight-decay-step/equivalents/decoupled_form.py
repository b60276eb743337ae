import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    if lr <= 0:
        raise ValueError("lr must be > 0")
    if weight_decay < 0:
        raise ValueError("weight_decay must be >= 0")
    w = np.asarray(w)
    grad = np.asarray(grad)
    if w.shape != grad.shape:
        raise ValueError("shapes differ")
    new = w * (1 - lr * weight_decay) - lr * grad
    return new.astype(w.dtype)
