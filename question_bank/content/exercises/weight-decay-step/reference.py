import numpy as np


def weight_decay_step(w, grad, lr, weight_decay):
    w = np.asarray(w)
    grad = np.asarray(grad)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if grad.shape != w.shape:
        raise ValueError(f"grad has shape {grad.shape}, w has shape {w.shape}")
    step = grad + weight_decay * w
    return (w - lr * step).astype(w.dtype, copy=False)
