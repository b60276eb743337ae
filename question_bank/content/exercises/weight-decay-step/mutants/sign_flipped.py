# misconception: the decay term has the wrong sign, so the weights grow; the step is w - lr * (grad + weight_decay * w)
# expect: zero gradient shrinks every weight: shrink every weight toward zero
# expect: worked example: w - lr * (grad + weight_decay * w)
# The penalty's gradient is subtracted from the data gradient: weights grow instead of decaying.
import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    if lr <= 0 or weight_decay < 0 or grad.shape != w.shape:
        raise ValueError("bad arguments")
    return w - lr * (grad - weight_decay * w)
