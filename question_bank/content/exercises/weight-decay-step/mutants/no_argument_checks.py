# misconception: the arguments are never checked: raise ValueError for lr <= 0, weight_decay < 0 or a grad shape that differs from w's
# expect: bad arguments raise ValueError: lr must be > 0
# Correct arithmetic, but no validation: a zero learning rate and mismatched shapes go through.
import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    if weight_decay < 0:
        raise ValueError("weight_decay must be >= 0")
    return w - lr * (grad + weight_decay * w)
