# misconception: only smoothing > 1 is rejected; raise ValueError for negative smoothing too
# expect: bad arguments raise ValueError: negative values too
# Checks only smoothing > 1 and lets a negative smoothing through (a target with negative weights).
import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim != 2:
        raise ValueError("logits must be 2-D")
    n, k = logits.shape
    if labels.shape != (n,):
        raise ValueError("labels must have shape (N,)")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError("labels must be in [0, K)")
    if smoothing > 1:
        raise ValueError("smoothing must be at most 1")
    z = logits.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full((n, k), smoothing / k)
    target[np.arange(n), labels] += 1.0 - smoothing
    return float(-(target * log_p).sum(axis=1).mean())
