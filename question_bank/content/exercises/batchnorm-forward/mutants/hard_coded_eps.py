# misconception: the eps argument is ignored (a fixed 1e-5 is used); divide by sqrt(var + eps) with the eps that was passed in
# expect: running statistics move with momentum: out = gamma * (x - batch mean)
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training=True, momentum=0.1, eps=1e-5):
    if x.ndim != 2:
        raise ValueError("x must be 2-D")
    n, d = x.shape
    for a in (gamma, beta, running_mean, running_var):
        if np.shape(a) != (d,):
            raise ValueError("parameters must have shape (D,)")
    if not 0 <= momentum <= 1:
        raise ValueError("momentum must be in [0, 1]")
    if eps <= 0:
        raise ValueError("eps must be > 0")
    if training:
        if n < 2:
            raise ValueError("need at least 2 examples")
        mu, var = x.mean(axis=0), x.var(axis=0)
        new_mean = (1 - momentum) * running_mean + momentum * mu
        new_var = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    out = gamma * (x - mu) / np.sqrt(var + 1e-5) + beta
    return out.astype(x.dtype), new_mean, new_var
