# misconception: the logits are shifted by one maximum for the whole batch; shift each row by its own maximum (axis=1, keepdims=True), or rows far below it underflow
# expect: large logits stay finite: its own maximum
# Stabilizes the log-softmax with one maximum for the whole batch instead of each row's: a row whose
# logits are ~750 below the batch maximum underflows to exp(...) = 0 and log(0) = -inf.
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
    if not 0 <= smoothing <= 1:
        raise ValueError("smoothing must be in [0, 1]")
    z = logits.astype(np.float64)
    shifted = z - z.max()
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full((n, k), smoothing / k)
    target[np.arange(n), labels] += 1.0 - smoothing
    with np.errstate(all="ignore"):
        return float(-(target * log_p).sum(axis=1).mean())
