# misconception: the kept units are not scaled by 1/(1-p), so the mean shrinks; divide the kept units by 1 - p
# expect: one pass zeroes or scales each hidden unit: 0, 4 or 8
# expect: the mean over passes estimates the network output: kept units are scaled by 1/(1-p)
# Zeroes hidden units but never scales the survivors up, so the mean shrinks by a factor 1 - p.
import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    if np.ndim(x) != 2 or x.shape[1] != W1.shape[0] or not 0 <= p < 1 or int(T) != T or T < 1:
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    h = np.maximum(x @ W1 + b1, 0)
    ys = np.stack([(h * (rng.random(h.shape) >= p)) @ W2 + b2 for _ in range(T)])
    return ys.mean(axis=0), ys.var(axis=0)
