# misconception: the softmax is taken over the examples (axis 0); take it over the classes of each row (axis 1)
# expect: worked example: softmax over the classes of each row
# Normalizes over axis 0 (across examples) instead of axis 1 (across classes).
import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    if np.ndim(logits) != 2 or np.shape(labels) != (np.shape(logits)[0],):
        raise ValueError("bad shapes")
    n, k = logits.shape
    if np.any(labels < 0) or np.any(labels >= k) or not 0 <= smoothing <= 1:
        raise ValueError("bad labels or smoothing")
    z = logits - logits.max(axis=0, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
    q = np.full((n, k), smoothing / k)
    q[np.arange(n), labels] += 1 - smoothing
    return float(-(q * log_p).sum(axis=1).mean())
