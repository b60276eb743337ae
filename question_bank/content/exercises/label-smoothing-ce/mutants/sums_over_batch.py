# misconception: the per-example losses are summed; the loss is their mean
# expect: random batch: average over the N examples
# Sums the per-example losses instead of averaging them.
import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    if np.ndim(logits) != 2 or np.shape(labels) != (np.shape(logits)[0],):
        raise ValueError("bad shapes")
    n, k = logits.shape
    if np.any(labels < 0) or np.any(labels >= k) or not 0 <= smoothing <= 1:
        raise ValueError("bad labels or smoothing")
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    q = np.full((n, k), smoothing / k)
    q[np.arange(n), labels] += 1 - smoothing
    return float(-(q * log_p).sum())
