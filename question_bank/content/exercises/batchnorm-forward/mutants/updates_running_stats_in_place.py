# misconception: this updates the caller's running_mean and running_var in place; compute new arrays and return them, leaving the arguments as they were
# expect: inputs are left unchanged: must not be modified
# Updates the caller's running statistics in place (as a layer object would) and returns them.
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training=True, momentum=0.1, eps=1e-5):
    if np.ndim(x) != 2 or x.shape[1] != np.shape(gamma)[0] or not 0 <= momentum <= 1 or eps <= 0:
        raise ValueError("bad arguments")
    if any(np.shape(a) != np.shape(gamma) for a in (beta, running_mean, running_var)):
        raise ValueError("bad arguments")
    if training:
        if x.shape[0] < 2:
            raise ValueError("need N >= 2")
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        running_mean *= 1 - momentum
        running_mean += momentum * mu
        running_var *= 1 - momentum
        running_var += momentum * var
    else:
        mu, var = running_mean, running_var
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, running_mean, running_var
