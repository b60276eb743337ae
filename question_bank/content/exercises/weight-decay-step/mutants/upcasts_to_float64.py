# misconception: float32 weights come back as float64; return the result in w's dtype
# expect: float32 weights stay float32: same dtype as w
# Converts everything to float64 "for safety" and returns float64 for float32 weights.
import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    w = np.asarray(w, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if lr <= 0 or weight_decay < 0 or grad.shape != w.shape:
        raise ValueError("bad arguments")
    return w - lr * (grad + weight_decay * w)
