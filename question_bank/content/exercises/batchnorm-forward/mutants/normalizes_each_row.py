# misconception: the statistics are taken over each example (axis 1, as layer norm does); batch norm averages each feature over the batch, axis 0
# expect: per-feature zero mean and unit variance: normalize each feature (column) over the batch
# Takes the statistics over axis 1, i.e. per example (that is layer norm, not batch norm).
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
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        new_mean = (1 - momentum) * running_mean + momentum * mu.mean()
        new_var = (1 - momentum) * running_var + momentum * var.mean()
    else:
        mu, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, new_mean, new_var
