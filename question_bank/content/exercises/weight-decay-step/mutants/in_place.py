# misconception: the caller's w is updated in place; return a new array and leave w as it was
# expect: inputs are left unchanged: must not be modified
# A student who writes the update the way an optimizer does it: in place, on the caller's array.
import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    if lr <= 0 or weight_decay < 0 or grad.shape != w.shape:
        raise ValueError("bad arguments")
    w -= lr * (grad + weight_decay * w)
    return w
