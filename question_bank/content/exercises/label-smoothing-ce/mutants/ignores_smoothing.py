# misconception: the smoothing argument is not used: the target is (1 - smoothing) * one_hot + smoothing / K
# expect: worked example: (1 - smoothing) * one_hot + smoothing / K
# Plain cross-entropy: the smoothing argument is never used.
import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    if np.ndim(logits) != 2 or np.shape(labels) != (np.shape(logits)[0],):
        raise ValueError("bad shapes")
    n, k = logits.shape
    if np.any(labels < 0) or np.any(labels >= k) or not 0 <= smoothing <= 1:
        raise ValueError("bad labels or smoothing")
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(n), labels].mean())
