import numpy as np


def batchnorm_forward(
    x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5
):
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (N, D), got shape {x.shape}")
    n, d = x.shape
    params = {
        "gamma": gamma,
        "beta": beta,
        "running_mean": running_mean,
        "running_var": running_var,
    }
    for name, value in params.items():
        if np.shape(value) != (d,):
            raise ValueError(f"{name} must have shape ({d},), got {np.shape(value)}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    running_mean = np.asarray(running_mean)
    running_var = np.asarray(running_var)
    if training:
        if n < 2:
            raise ValueError("training mode needs at least 2 examples per batch")
        mean = x.mean(axis=0)
        var = ((x - mean) ** 2).mean(axis=0)
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * var
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
    out = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return (
        out.astype(x.dtype, copy=False),
        new_mean.astype(running_mean.dtype, copy=False),
        new_var.astype(running_var.dtype, copy=False),
    )
