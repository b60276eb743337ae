# misconception: the variance divides by T - 1 (ddof=1); divide by T, so a single pass has variance 0
# expect: T = 1 gives zero variance: divide by T, not T - 1
# Uses the sample variance (ddof=1): nan for T = 1 and too large for small T.
import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    if np.ndim(x) != 2 or x.shape[1] != W1.shape[0] or not 0 <= p < 1 or int(T) != T or T < 1:
        raise ValueError("bad arguments")
    rng = np.random.default_rng() if rng is None else rng
    h = np.maximum(x @ W1 + b1, 0)
    ys = np.stack([(h * (rng.random(h.shape) >= p) / (1 - p)) @ W2 + b2 for _ in range(T)])
    with np.errstate(all="ignore"):
        return ys.mean(axis=0), ys.var(axis=0, ddof=1)
