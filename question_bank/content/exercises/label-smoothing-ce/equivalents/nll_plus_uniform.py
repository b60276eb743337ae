import numpy as np


def label_smoothing_ce(logits, labels, smoothing=0.1):
    if np.ndim(logits) != 2:
        raise ValueError("logits must be 2-D")
    n, k = np.shape(logits)
    if np.shape(labels) != (n,):
        raise ValueError("labels must have shape (N,)")
    if np.any(labels < 0) or np.any(labels >= k):
        raise ValueError("labels out of range")
    if smoothing < 0 or smoothing > 1:
        raise ValueError("smoothing must be in [0, 1]")
    z = np.asarray(logits, dtype=np.float64)
    lse = np.logaddexp.reduce(z, axis=1)
    log_p = z - lse[:, None]
    nll = -log_p[np.arange(n), labels]
    uniform = -log_p.mean(axis=1)
    return float(np.mean((1 - smoothing) * nll + smoothing * uniform))
