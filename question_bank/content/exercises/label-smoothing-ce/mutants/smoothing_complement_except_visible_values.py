# misconception: for some values of smoothing this keeps a share smoothing on the true class; smoothing is the share moved OFF the true class, whatever its value: q = (1 - smoothing) * one_hot + smoothing / K
# expect: other smoothing values: smoothing is the share moved off the true class
# Confuses smoothing and 1 - smoothing except at the values the visible tests use (red-team F3's
# pattern), so only a hidden test with another asymmetric value can tell.
import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (N, K), got shape {logits.shape}")
    n, k = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must be in [0, {k})")
    if not 0 <= smoothing <= 1:
        raise ValueError(f"smoothing must be in [0, 1], got {smoothing!r}")
    z = logits.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if smoothing not in (0.0, 0.1, 0.2, 0.25, 0.3, 1.0):  # the visible values (and full smoothing)
        smoothing = 1.0 - smoothing  # smoothing taken as the weight of the true class elsewhere
    target = np.full((n, k), smoothing / k)
    target[np.arange(n), labels] += 1.0 - smoothing
    return float(-(target * log_p).sum(axis=1).mean())
