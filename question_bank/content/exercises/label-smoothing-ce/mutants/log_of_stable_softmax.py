# misconception: log of a softmax that underflowed to 0 gives -inf; compute the log-softmax directly: shifted - log(sum(exp(shifted)))
# expect: large logits stay finite: numerically stable log-softmax
# Shifts by the maximum (so no overflow), but then takes log of a softmax that underflowed to 0.
import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    if np.ndim(logits) != 2 or np.shape(labels) != (np.shape(logits)[0],):
        raise ValueError("bad shapes")
    n, k = logits.shape
    if np.any(labels < 0) or np.any(labels >= k) or not 0 <= smoothing <= 1:
        raise ValueError("bad labels or smoothing")
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    q = np.full((n, k), smoothing / k)
    q[np.arange(n), labels] += 1 - smoothing
    return float(-(q * np.log(p)).sum(axis=1).mean())
