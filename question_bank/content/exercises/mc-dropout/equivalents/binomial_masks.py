import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    x = np.asarray(x, dtype=float)
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    if x.ndim != 2 or x.shape[1] != W1.shape[0]:
        raise ValueError("x must be (N, D)")
    if not (0 <= p < 1):
        raise ValueError("p must be in [0, 1)")
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError("T must be a positive integer")
    rng = rng if rng is not None else np.random.default_rng()
    h = np.maximum(0, x @ W1 + b1)
    outs = []
    for _ in range(T):
        mask = rng.binomial(1, 1 - p, size=h.shape)
        outs.append((h * mask / (1 - p)) @ W2 + b2)
    outs = np.array(outs)
    return outs.mean(axis=0), outs.var(axis=0)
