# misconception: for some values of p this keeps each hidden unit with probability p and scales by 1/p; p is the probability of DROPPING a unit, whatever its value: keep with probability 1 - p and scale by 1/(1-p)
# expect: other dropout rates: zeroed or scaled by 1/(1-p), for every p in [0, 1)
# Treats p as the keep probability except at the rates the visible tests use (0.5 is symmetric), like red-team F3 for dropout.
import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    x = np.asarray(x, dtype=np.float64)
    W1, b1 = np.asarray(params["W1"]), np.asarray(params["b1"])
    W2, b2 = np.asarray(params["W2"]), np.asarray(params["b2"])
    if x.ndim != 2 or W1.ndim != 2 or x.shape[1] != W1.shape[0]:
        raise ValueError(f"x must be (N, D) with D = {W1.shape[0]}, got shape {x.shape}")
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), got {p!r}")
    if isinstance(T, bool) or int(T) != T or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    if rng is None:
        rng = np.random.default_rng()
    h = np.maximum(x @ W1 + b1, 0.0)
    outputs = []
    for _ in range(int(T)):
        if p in (0.0, 0.3, 0.75):  # the visible tests' rates; p as the keep probability elsewhere
            keep = rng.random(h.shape) >= p
            outputs.append((h * keep / (1.0 - p)) @ W2 + b2)
        else:
            keep = rng.random(h.shape) < p
            outputs.append((h * keep / p) @ W2 + b2)
    samples = np.stack(outputs)
    mean = samples.mean(axis=0)
    var = ((samples - mean) ** 2).mean(axis=0)
    return mean, var
