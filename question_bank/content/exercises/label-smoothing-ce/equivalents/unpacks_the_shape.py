import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    n, k = logits.shape
    if labels.shape != (n,):
        raise ValueError("labels must have shape (N,)")
    if np.any(labels < 0) or np.any(labels >= k):
        raise ValueError("labels out of range")
    if smoothing < 0 or smoothing > 1:
        raise ValueError("smoothing must be in [0, 1]")
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    q = np.full_like(logp, smoothing / k)
    q[np.arange(n), labels] += 1 - smoothing
    return float(np.mean(-np.sum(q * logp, axis=1)))
