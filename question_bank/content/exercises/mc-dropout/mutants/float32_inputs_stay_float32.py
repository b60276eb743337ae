# misconception: float32 inputs give float32 results; convert x to float64 so mean and var are float64
# expect: float32 inputs give float64 results: compute in float64
# Never converts to float64: float32 inputs and parameters give float32 mean and variance.
import numpy as np


def mc_dropout_predict(x, params, p, T, rng=None):
    x = np.asarray(x)
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
        keep = rng.random(h.shape) >= p
        outputs.append((h * keep / (1.0 - p)) @ W2 + b2)
    samples = np.stack(outputs)
    mean = samples.mean(axis=0)
    var = ((samples - mean) ** 2).mean(axis=0)
    return mean, var
