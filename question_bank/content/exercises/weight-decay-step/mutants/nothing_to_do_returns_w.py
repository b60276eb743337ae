# misconception: when nothing changes this returns w itself; always return a new array
# expect: weight_decay 0 is plain SGD: never w itself
# Skips the update when there is nothing to do (zero gradient, no decay) and returns w itself.
import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    w = np.asarray(w)
    grad = np.asarray(grad)
    if not lr > 0:
        raise ValueError("lr must be > 0")
    if not weight_decay >= 0:
        raise ValueError("weight_decay must be >= 0")
    if grad.shape != w.shape:
        raise ValueError("grad and w must have the same shape")
    if weight_decay == 0 and not grad.any():
        return w
    return (w - lr * (grad + weight_decay * w)).astype(w.dtype)
