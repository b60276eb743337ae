# misconception: batch norm uses the biased variance, dividing by N (np.var's default ddof=0), not the N - 1 sample variance
# expect: per-feature zero mean and unit variance: biased batch variance
# Uses the sample variance (ddof=1), as a statistics course would, instead of dividing by N.
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
        var = x.var(axis=0, ddof=1)
        new_mean = (1 - momentum) * running_mean + momentum * mu
        new_var = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, new_mean, new_var
