import numpy as np


def batchnorm_forward(
    x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5
):
    x = np.asarray(x)
    if len(x.shape) != 2:
        raise ValueError("x must be 2-D")
    d = x.shape[1]
    if any(np.shape(v) != (d,) for v in (gamma, beta, running_mean, running_var)):
        raise ValueError("parameter shapes")
    if not (0 <= momentum <= 1) or not (eps > 0):
        raise ValueError("momentum or eps")
    if not training:
        inv = 1.0 / np.sqrt(running_var + eps)
        out = (x - running_mean) * inv * gamma + beta
        return out.astype(x.dtype), running_mean.copy(), running_var.copy()
    if x.shape[0] < 2:
        raise ValueError("batch too small")
    mean = x.sum(axis=0) / x.shape[0]
    centered = x - mean
    var = (centered**2).sum(axis=0) / x.shape[0]
    out = gamma * centered / np.sqrt(var + eps) + beta
    rm = running_mean + momentum * (mean - running_mean)
    rv = running_var + momentum * (var - running_var)
    return out.astype(x.dtype), rm, rv
