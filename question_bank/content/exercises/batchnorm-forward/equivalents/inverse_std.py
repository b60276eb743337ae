import numpy as np


def batchnorm_forward(
    x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5
):
    if np.ndim(x) != 2:
        raise ValueError("x must be 2-D")
    d = x.shape[1]
    if any(np.shape(a) != (d,) for a in (gamma, beta, running_mean, running_var)):
        raise ValueError("parameter shapes must be (D,)")
    if momentum < 0 or momentum > 1 or eps <= 0:
        raise ValueError("bad momentum or eps")
    if training and x.shape[0] < 2:
        raise ValueError("need N >= 2 in training")
    if training:
        mu = np.mean(x, axis=0)
        var = np.var(x, axis=0)
        new_mean = running_mean + momentum * (mu - running_mean)
        new_var = running_var + momentum * (var - running_var)
    else:
        mu, var = running_mean, running_var
        new_mean, new_var = np.array(running_mean), np.array(running_var)
    inv_std = 1.0 / np.sqrt(var + eps)
    scale = gamma * inv_std
    out = x * scale + (beta - mu * scale)
    return out.astype(x.dtype), new_mean, new_var
