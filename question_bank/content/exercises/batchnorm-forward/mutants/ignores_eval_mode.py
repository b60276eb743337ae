# misconception: training=False is ignored; in eval mode normalize with running_mean and running_var and return them unchanged
# expect: eval mode uses the running statistics: eval mode normalizes with running_mean and running_var
# Forgets the training switch: always normalizes with the batch and always updates the running stats.
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training=True, momentum=0.1, eps=1e-5):
    if np.ndim(x) != 2 or x.shape[1] != np.shape(gamma)[0] or not 0 <= momentum <= 1 or eps <= 0:
        raise ValueError("bad arguments")
    if any(np.shape(a) != np.shape(gamma) for a in (beta, running_mean, running_var)):
        raise ValueError("bad arguments")
    if x.shape[0] < 2:
        raise ValueError("need N >= 2")
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    new_mean = (1 - momentum) * running_mean + momentum * mu
    new_var = (1 - momentum) * running_var + momentum * var
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, new_mean, new_var
