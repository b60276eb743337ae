# misconception: the arguments are only checked in training mode; eval mode must raise ValueError for wrong shapes, momentum outside [0, 1] or eps <= 0 too
# expect: bad arguments raise ValueError: in eval mode too
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training=True, momentum=0.1, eps=1e-5):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out.astype(x.dtype), running_mean.copy(), running_var.copy()
    if x.ndim != 2:
        raise ValueError("x must be 2-D")
    n, d = x.shape
    for a in (gamma, beta, running_mean, running_var):
        if a.shape != (d,):
            raise ValueError("parameters must have shape (D,)")
    if not 0 <= momentum <= 1:
        raise ValueError("momentum must be in [0, 1]")
    if eps <= 0:
        raise ValueError("eps must be > 0")
    if n < 2:
        raise ValueError("need at least 2 examples")
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    new_mean = (1 - momentum) * running_mean + momentum * mu
    new_var = (1 - momentum) * running_var + momentum * var
    return out.astype(x.dtype), new_mean, new_var
