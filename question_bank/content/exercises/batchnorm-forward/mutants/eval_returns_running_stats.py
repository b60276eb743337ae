# misconception: in eval mode this hands back the caller's running_mean and running_var arrays themselves; return new arrays (copies) with the same values
# expect: returns new arrays: argument 'running_mean' itself, not a new object
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training=True, momentum=0.1, eps=1e-5):
    if x.ndim != 2:
        raise ValueError("x must be 2-D")
    d = x.shape[1]
    for a in (gamma, beta, running_mean, running_var):
        if a.shape != (d,):
            raise ValueError("parameters must have shape (D,)")
    if not 0 <= momentum <= 1:
        raise ValueError("momentum must be in [0, 1]")
    if eps <= 0:
        raise ValueError("eps must be > 0")
    if training:
        if x.shape[0] < 2:
            raise ValueError("need at least 2 examples")
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        new_mean = (1 - momentum) * running_mean + momentum * mu
        new_var = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var  # unchanged in eval mode
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    return out.astype(x.dtype), new_mean, new_var
