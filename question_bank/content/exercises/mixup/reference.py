import numpy as np


def mixup(x, y, alpha, rng=None):
    x = np.asarray(x)
    y = np.asarray(y)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    if y.ndim != 2:
        raise ValueError(f"y must be 2-D (N, K), got shape {y.shape}")
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size, got {x.shape} and {y.shape}")
    if rng is None:
        rng = np.random.default_rng()
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(x.shape[0])
    x_mix = (lam * x + (1.0 - lam) * x[perm]).astype(x.dtype, copy=False)
    y_mix = (lam * y + (1.0 - lam) * y[perm]).astype(y.dtype, copy=False)
    return x_mix, y_mix, lam, perm
