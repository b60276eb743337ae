# expect: bad arguments raise ValueError: x must be 2-D
# Never checks x: numpy's matmul rejects a wrong number of features by itself, but a 1-D x goes through.
import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    x = np.asarray(x, dtype=np.float64)
    W1, b1, W2, b2 = (np.asarray(params[k]) for k in ("W1", "b1", "W2", "b2"))
    if not 0 <= p < 1:
        raise ValueError("p must be in [0, 1)")
    if isinstance(T, bool) or int(T) != T or T < 1:
        raise ValueError("T must be a positive integer")
    rng = np.random.default_rng() if rng is None else rng
    h = np.maximum(x @ W1 + b1, 0.0)
    samples = np.stack([(h * (rng.random(h.shape) >= p) / (1 - p)) @ W2 + b2 for _ in range(int(T))])
    return samples.mean(axis=0), samples.var(axis=0)
