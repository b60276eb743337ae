import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    if np.ndim(x) != 2 or np.shape(x)[1] != np.shape(W1)[0]:
        raise ValueError("x must be (N, D)")
    if p < 0 or p >= 1:
        raise ValueError("p must be in [0, 1)")
    if int(T) != T or T < 1:
        raise ValueError("T must be a positive integer")
    rng = np.random.default_rng() if rng is None else rng
    h = np.maximum(np.asarray(x, dtype=float) @ W1 + b1, 0.0)
    # all T masks at once: shape (T, N, H)
    masks = rng.binomial(1, 1.0 - p, size=(int(T), *h.shape))
    ys = np.einsum("tnh,hk->tnk", h * masks * (1.0 / (1.0 - p)), W2) + b2
    mean = ys.mean(axis=0)
    # E[y^2] - E[y]^2 can round below zero; the direct form cannot
    var = np.mean(np.square(ys - mean), axis=0)
    return mean, var
