import numpy as np


def mixup(x, y, alpha, rng=None):
    if alpha <= 0:
        raise ValueError("alpha must be > 0")
    if np.ndim(y) != 2 or np.shape(x)[0] != np.shape(y)[0]:
        raise ValueError("y must be (N, K) with the batch size of x")
    rng = np.random.default_rng() if rng is None else rng
    n = len(x)
    perm = np.argsort(rng.random(n), kind="stable")
    # lambda from two Gamma draws: G1 / (G1 + G2) ~ Beta(alpha, alpha)
    g1, g2 = rng.standard_gamma(alpha), rng.standard_gamma(alpha)
    lam = float(g1 / (g1 + g2))
    x_mix = x[perm] + lam * (x - x[perm])
    y_mix = y[perm] + lam * (y - y[perm])
    return x_mix.astype(x.dtype), y_mix.astype(y.dtype), lam, perm
