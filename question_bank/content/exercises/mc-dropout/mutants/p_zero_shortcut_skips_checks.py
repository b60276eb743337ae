# misconception: with p = 0 the function returns before T is checked; validate every argument before any shortcut
# expect: bad arguments raise ValueError: also when p = 0
# Returns the plain network at once when p = 0, before T is checked: T = 0 goes through on that path.
import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    x = np.asarray(x, dtype=np.float64)
    W1, b1, W2, b2 = (np.asarray(params[k]) for k in ("W1", "b1", "W2", "b2"))
    if x.ndim != 2 or x.shape[1] != W1.shape[0]:
        raise ValueError("x must be (N, D)")
    if not 0 <= p < 1:
        raise ValueError("p must be in [0, 1)")
    h = np.maximum(x @ W1 + b1, 0.0)
    if p == 0:
        out = h @ W2 + b2
        return out, np.zeros_like(out)
    if isinstance(T, bool) or int(T) != T or T < 1:
        raise ValueError("T must be a positive integer")
    rng = np.random.default_rng() if rng is None else rng
    samples = np.stack([(h * (rng.random(h.shape) >= p) / (1 - p)) @ W2 + b2 for _ in range(int(T))])
    return samples.mean(axis=0), samples.var(axis=0)
