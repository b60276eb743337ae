# misconception: a float64 gradient turns float32 weights into float64; return the result in w's dtype (e.g. .astype(w.dtype))
# expect: float32 weights stay float32: a float64 gradient must not turn float32 weights into float64
# Never casts back: numpy promotes float32 weights with a float64 gradient to float64.
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
    return w - lr * (grad + weight_decay * w)
