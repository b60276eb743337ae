# misconception: the ValueError for a wrong shape comes from numpy (broadcasting or unpacking), not from your code; check x.ndim and every parameter's shape yourself and raise ValueError with a message
# expect: bad arguments raise ValueError: not by a check of your own
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training=True, momentum=0.1, eps=1e-5):
    n, d = x.shape  # a 1-D x fails here
    if not 0 <= momentum <= 1:
        raise ValueError("momentum must be in [0, 1]")
    if eps <= 0:
        raise ValueError("eps must be > 0")
    if training:
        if n < 2:
            raise ValueError("need at least 2 examples")
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        new_mean = (1 - momentum) * running_mean + momentum * mu
        new_var = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta  # numpy rejects mismatched shapes
    return out.astype(x.dtype), new_mean, new_var
