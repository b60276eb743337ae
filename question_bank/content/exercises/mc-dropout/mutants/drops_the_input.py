# misconception: dropout is applied to the input features; apply it to the hidden activations relu(x @ W1 + b1)
# expect: one pass zeroes or scales each hidden unit: independently for every example
# Applies dropout to the input features instead of the hidden activations.
import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    if np.ndim(x) != 2 or x.shape[1] != W1.shape[0] or not 0 <= p < 1 or int(T) != T or T < 1:
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    ys = []
    for _ in range(T):
        xd = x * (rng.random(x.shape) >= p) / (1 - p)
        ys.append(np.maximum(xd @ W1 + b1, 0) @ W2 + b2)
    ys = np.stack(ys)
    return ys.mean(axis=0), ys.var(axis=0)
